from django.apps import AppConfig

from kent_cs.navigation import NavItem


class CashieringConfig(AppConfig):
    name = "cashiering"
    verbose_name = "Cashiering"
    nav_items = (
        NavItem("Counter", "My drawer", "cashiering:my-session", "cashiering.operate_drawer"),
        NavItem("Counter", "Look up a payer", "cashiering:lookup", "cashiering.operate_drawer"),
        NavItem(
            "Counter", "Account inquiry", "cashiering:inquiry-search", "cashiering.view_receipt"
        ),
        NavItem(
            "Counter",
            "Voids and reversals",
            "cashiering:corrections",
            "cashiering.view_correctionrequest",
        ),
        NavItem(
            "Counter", "Drawer sessions", "cashiering:sessions", "cashiering.view_all_sessions"
        ),
        NavItem("Counter", "Import accounts", "cashiering:import", "cashiering.import_accounts"),
        NavItem("Balancing", "Daily balancing", "cashiering:balancing", "cashiering.balance_day"),
        NavItem(
            "Balancing",
            "Prepare a deposit",
            "cashiering:deposit-prepare",
            "cashiering.prepare_deposit",
        ),
        NavItem("Balancing", "Deposits", "cashiering:deposits", "cashiering.view_deposit"),
        NavItem("Balancing", "Daily reports", "cashiering:daily-reports", "cashiering.balance_day"),
        NavItem(
            "Audit",
            "Daily audit report",
            "cashiering:daily-reports",
            "cashiering.view_audit_report",
        ),
        NavItem(
            "Balancing",
            "Returned checks",
            "cashiering:returned-checks",
            "cashiering.view_returnedcheck",
        ),
        NavItem("Balancing", "Refunds", "cashiering:refunds", "cashiering.view_refundrequest"),
    )

    def ready(self) -> None:
        from cashiering import payables, targets

        targets.register(payables.UtilityAccountTarget())
        targets.register(payables.InvoiceTarget())
        targets.register(payables.FeeItemTarget())
        targets.register(payables.ReturnedCheckTarget())

    def seed_demo(self, stdout) -> None:
        from cashiering.demo import seed

        seed(stdout)

    def dashboard_cards(self, user) -> list[dict]:
        from cashiering.selectors.counter import dashboard_cards

        return dashboard_cards(user)
