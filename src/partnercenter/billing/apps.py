from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "partnercenter.billing"
    label = "billing"
