from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "partnercenter.incentives"
    label = "incentives"
