from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "partnercenter.exports"
    label = "exports"

    def ready(self) -> None:
        # Export kinds live in each app's ``exports`` module; import them in every process.
        from .registry import autodiscover

        autodiscover()
