"""Payout applications (I7, I8); built by the payout work."""

from django.urls import URLPattern, path

from .views import index

# TEMP: a stand-in route so the tab bar renders until payout applications are merged.
urlpatterns: list[URLPattern] = [path("payouts/", index, name="payouts")]
