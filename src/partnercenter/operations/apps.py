from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "partnercenter.operations"
    label = "operations"
