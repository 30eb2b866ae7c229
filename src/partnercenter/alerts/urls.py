from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:alert_id>/", views.detail, name="detail"),
    path("<int:alert_id>/handle/", views.handle, name="handle"),
]
