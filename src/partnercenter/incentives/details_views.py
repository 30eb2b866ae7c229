"""The Details tab (I5, I6); built by the details work."""

from django.urls import URLPattern, path

from .views import index

# TEMP: a stand-in route so the tab bar renders until the Details tab is merged.
urlpatterns: list[URLPattern] = [path("details/", index, name="details")]
