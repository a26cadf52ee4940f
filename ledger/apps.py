"""The ledger app's configuration: its menu links, dashboard figures and demo data."""

from django.apps import AppConfig

from kent_cs.navigation import NavItem


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "General ledger"
    nav_items = (
        NavItem("Ledger", "Chart of accounts", "ledger:chart", "ledger.view_glaccount"),
        NavItem("Ledger", "Trial balance", "ledger:trial-balance", "kent_cs.view_reports"),
        NavItem("Ledger", "Accounting periods", "ledger:periods", "ledger.view_accountingperiod"),
        NavItem(
            "Ledger",
            "Bank reconciliation",
            "ledger:bank-accounts",
            "ledger.view_bankstatementimport",
        ),
        NavItem(
            "Ledger", "Import bank statement", "ledger:bank-import", "ledger.import_bank_files"
        ),
    )

    # The two hooks below import inside the method: Django imports apps.py while it is
    # still loading the app registry, before models may be imported.
    def seed_demo(self, stdout) -> None:
        from ledger.demo import seed

        seed(stdout)

    def dashboard_cards(self, user) -> list[dict]:
        from ledger.selectors import dashboard_cards

        return dashboard_cards(user)
