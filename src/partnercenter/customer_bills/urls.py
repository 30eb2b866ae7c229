from django.urls import path

from . import views

app_name = "customer_bills"
urlpatterns = [
    path("", views.index, name="index"),
    path("customers/", views.customer_options, name="customer_options"),
    path("fields/<str:table>/", views.table_fields, name="table_fields"),
]
