from django.urls import path

from . import confirm_views, credit_views, views

app_name = "customer_bills"
urlpatterns = [
    path("", views.index, name="index"),
    # Confirm bill and return credit; adjustment records and credit (confirm_views, credit_views).
    path("confirm/", confirm_views.confirm, name="confirm"),
    path("adjustments/", credit_views.adjustments, name="adjustments"),
    path("customers/", views.customer_options, name="customer_options"),
    path("fields/<str:table>/", views.table_fields, name="table_fields"),
]
