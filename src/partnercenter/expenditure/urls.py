from django.urls import path

from . import views

app_name = "expenditure"
urlpatterns = [
    path("", views.index, name="index"),
    path("details/", views.details, name="details"),
    path("export/", views.export, name="export"),
]
