from django.urls import path

from . import views

app_name = "partners"
urlpatterns = [
    path("", views.customers, name="customers"),
    path("assignment/", views.assignment, name="assignment"),
    path("<str:account_id>/", views.customer_detail, name="customer_detail"),
]
