from django.apps import AppConfig


class CustomerBillsConfig(AppConfig):
    name = "partnercenter.customer_bills"
    label = "customer_bills"

    def ready(self) -> None:
        from . import downloads  # noqa: F401 - registers the customer bill download kinds
