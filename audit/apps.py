from django.apps import AppConfig

from kent_cs.navigation import NavItem


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation.
    nav_items: tuple = (
        NavItem("Training", "My training course", "audit:training", "audit.take_training"),
        NavItem(
            "Training", "Training progress", "audit:training-staff", "audit.view_training_progress"
        ),
    )
