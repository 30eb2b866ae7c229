from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partnercenter.partners"
    label = "partners"
