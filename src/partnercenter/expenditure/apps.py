from django.apps import AppConfig


class ExpenditureConfig(AppConfig):
    name = "partnercenter.expenditure"
    label = "expenditure"
