from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "partnercenter.usage"
    label = "usage"
