"""Supervision: audit reports, the exceptions dashboard, the tamper-evidence check,
scheduled reports for other city areas and staff training. It reads every other app
(through their selectors) and is read by none."""

from django.apps import AppConfig

from kent_cs.navigation import NavItem


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation. The exceptions
    # page has its own link with a badge beside the menus (templates/base.html).
    # Counter staff find their course in the Counter menu; supervisors find theirs and
    # everyone's progress under Audit (a menu of its own would not fit 1024 px).
    nav_items: tuple = (
        NavItem("Audit", "Audit chain", "audit:chain", "audit.verify_audit_chain"),
        NavItem("Audit", "Audit reports", "audit:reports", "kent_cs.view_reports"),
        NavItem("Counter", "My training course", "audit:training", "cashiering.operate_drawer"),
        NavItem(
            "Audit", "Training progress", "audit:training-staff", "audit.view_training_progress"
        ),
        NavItem("Audit", "My training course", "audit:training", "audit.view_training_progress"),
        NavItem(
            "Audit", "Scheduled reports", "audit:schedule-list", "audit.manage_report_schedules"
        ),
    )

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from audit import chain_sql

        # Chains any event table a later migration adds (and re-creates the functions).
        post_migrate.connect(chain_sql.install, sender=self)

    def worker_recover(self) -> None:
        """Called by each worker once a minute: claim the scheduled reports that are due
        and enqueue them (each period once, whichever worker claims it), and write
        yesterday's chain digest once."""
        from audit.schedule_runs import report_schedules_check
        from audit.services_chain import chain_digest_daily

        report_schedules_check()
        chain_digest_daily()

    def dashboard_cards(self, user) -> list[dict]:
        from audit.dashboard import dashboard_cards

        return dashboard_cards(user)
