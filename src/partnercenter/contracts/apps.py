from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "partnercenter.contracts"
    label = "contracts"
