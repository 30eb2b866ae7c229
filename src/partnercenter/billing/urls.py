from django.urls import path

from . import payment_views, views

app_name = "billing"
urlpatterns = [path("", views.index, name="index")]
urlpatterns += [
    path("amount-due/", payment_views.amount_due, name="amount_due"),
    path("unpaid/", payment_views.unpaid, name="unpaid"),
    path("payments/", payment_views.payment_records, name="payments"),
    path("pay/", payment_views.pay, name="pay"),
    path("agreements/", payment_views.agreements, name="agreements"),
]
