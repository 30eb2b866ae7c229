from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "partnercenter.exports"
    label = "exports"
