from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "partnercenter.leads"
    label = "leads"
