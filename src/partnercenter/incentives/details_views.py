"""The Details tab (I5, I6); built by the details work."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
