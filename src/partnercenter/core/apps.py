from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "partnercenter.core"
    label = "core"

    def ready(self) -> None:
        # Registers the exact SQLite aggregate on every new connection.
        from partnercenter.core import dashboard, money  # noqa: F401

        dashboard.autodiscover()
