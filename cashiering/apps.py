from django.apps import AppConfig


class CashieringConfig(AppConfig):
    name = "cashiering"
    verbose_name = "Cashiering"

    def seed_demo(self, stdout) -> None:
        from cashiering.demo import seed

        seed(stdout)
