from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Business licensing"
    # Menu links arrive with the licensing screens (they need URL names to point at).
    nav_items = ()

    def ready(self) -> None:
        from cashiering import targets
        from licensing import payables

        targets.register(payables.LicenseInvoiceTarget())

    def dashboard_cards(self, user) -> list[dict]:
        from licensing.selectors import dashboard_cards

        return dashboard_cards(user)

    def seed_demo(self, stdout) -> None:
        from licensing.demo import seed

        seed(stdout)
