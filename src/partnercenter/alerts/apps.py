from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "partnercenter.alerts"
    label = "alerts"
