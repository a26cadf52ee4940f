from django.apps import AppConfig

from kent_cs.navigation import NavItem


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation.
    # Counter staff find their course in a menu of its own; supervisors, whose menu bar is
    # full, find theirs and everyone's progress under Audit.
    nav_items: tuple = (
        NavItem("Training", "My training course", "audit:training", "cashiering.operate_drawer"),
        NavItem(
            "Audit", "Training progress", "audit:training-staff", "audit.view_training_progress"
        ),
        NavItem("Audit", "My training course", "audit:training", "audit.view_training_progress"),
    )
