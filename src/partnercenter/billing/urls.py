from django.urls import path

from . import payment_views, pdf_views, views

app_name = "billing"
urlpatterns = [
    path("", views.index, name="index"),
    # Amount due and payments (payment_views).
    path("amount-due/", payment_views.amount_due, name="amount_due"),
    path("unpaid/", payment_views.unpaid, name="unpaid"),
    path("payments/", payment_views.payment_records, name="payments"),
    path("pay/", payment_views.pay, name="pay"),
    path("agreements/", payment_views.agreements, name="agreements"),
    # Bill documents, the 12-month chart and Export Bills (pdf_views).
    path("<int:bill_id>/invoice.pdf", pdf_views.invoice_pdf, name="invoice_pdf"),
    path("<int:bill_id>/bill.pdf", pdf_views.bill_pdf, name="bill_pdf"),
    path("chart/", pdf_views.chart_fragment, name="chart"),
    path("export/", pdf_views.export_page, name="export"),
]
