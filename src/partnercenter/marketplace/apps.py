from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "partnercenter.marketplace"
    label = "marketplace"
