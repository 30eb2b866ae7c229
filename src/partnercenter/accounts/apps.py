from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "partnercenter.accounts"
    label = "accounts"
