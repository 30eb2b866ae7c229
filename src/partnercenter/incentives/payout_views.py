"""Payout applications (I7, I8); built by the payout work."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
