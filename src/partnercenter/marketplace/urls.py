from django.urls import path

from . import views

app_name = "marketplace"
urlpatterns = [
    path("", views.index, name="index"),
    path("products/<slug:code>/link/", views.make_link, name="make_link"),
    path("p/<slug:code>", views.product, name="product"),
    path("revenue-sharing/", views.revenue, name="revenue"),
    path("revenue-sharing/export/", views.revenue_export, name="revenue_export"),
]
