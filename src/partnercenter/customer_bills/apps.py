from django.apps import AppConfig


class CustomerBillsConfig(AppConfig):
    name = "partnercenter.customer_bills"
    label = "customer_bills"
