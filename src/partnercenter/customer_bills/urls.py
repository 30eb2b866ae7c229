from django.urls import path

from . import views

app_name = "customer_bills"
urlpatterns = [path("", views.index, name="index")]
