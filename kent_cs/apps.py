from django.apps import AppConfig


class KentCsConfig(AppConfig):
    name = "kent_cs"
    verbose_name = "Kent Customer Services core"

    def ready(self) -> None:
        from kent_cs import auth  # noqa: F401 - connects the sign-in audit receivers
