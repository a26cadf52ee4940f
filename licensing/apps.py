from django.apps import AppConfig

from kent_cs.navigation import NavItem


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Business licensing"
    # In the order of the work: find the business, process applications, renew, collect.
    nav_items = (
        NavItem("Licensing", "Businesses", "licensing:business-search", "licensing.view_business"),
        NavItem(
            "Licensing",
            "Applications in review",
            "licensing:application-list",
            "licensing.view_application",
        ),
        NavItem("Licensing", "Renewals", "licensing:renewals", "licensing.view_renewalrun"),
        NavItem(
            "Licensing",
            "Renewals outstanding",
            "licensing:renewals-outstanding",
            "licensing.view_license",
        ),
        NavItem("Licensing", "Delinquency", "licensing:delinquency", "licensing.view_license"),
        NavItem("Licensing", "Fee preview", "licensing:fee-preview", "licensing.view_feeschedule"),
        NavItem(
            "Licensing",
            "Import license records",
            "licensing:license-import",
            "licensing.import_licenses",
        ),
        NavItem("Licensing", "Reports", "licensing:report-dashboard", "kent_cs.view_reports"),
    )

    def ready(self) -> None:
        from cashiering import targets
        from licensing import payables

        targets.register(payables.LicenseInvoiceTarget())

    def dashboard_cards(self, user) -> list[dict]:
        from licensing.selectors.dashboard import dashboard_cards

        return dashboard_cards(user)

    def worker_recover(self) -> None:
        """Called by each worker's sweep: hand out again the renewal notice chunks whose
        worker died, and mark failed the renewal runs whose job the watchdog failed."""
        from licensing.notice_runs import notice_runs_recover
        from licensing.renewal_runs import renewal_runs_lost

        notice_runs_recover()
        renewal_runs_lost()

    # Kinds of job this app resumes itself on Retry (kent_cs.jobs.job_retry).
    job_retry_kinds = ("licensing.renewal-notices",)

    def job_retry(self, job) -> None:
        from licensing.notice_runs import notice_run_retry

        notice_run_retry(job)

    def seed_demo(self, stdout) -> None:
        from licensing.demo import seed

        seed(stdout)
