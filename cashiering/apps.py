from django.apps import AppConfig


class CashieringConfig(AppConfig):
    name = "cashiering"
    verbose_name = "Cashiering"
    nav_items = ()

    def ready(self) -> None:
        from cashiering import payables, targets

        targets.register(payables.UtilityAccountTarget())
        targets.register(payables.InvoiceTarget())
        targets.register(payables.FeeItemTarget())

    def seed_demo(self, stdout) -> None:
        from cashiering.demo import seed

        seed(stdout)

    def dashboard_cards(self, user) -> list[dict]:
        from cashiering.selectors import dashboard_cards

        return dashboard_cards(user)
