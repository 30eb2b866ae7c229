from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [path("", views.index, name="index")]

# Bill documents, the 12-month chart and Export Bills (pdf_views).
from . import pdf_views  # noqa: E402

urlpatterns += [
    path("<int:bill_id>/invoice.pdf", pdf_views.invoice_pdf, name="invoice_pdf"),
    path("<int:bill_id>/bill.pdf", pdf_views.bill_pdf, name="bill_pdf"),
    path("chart/", pdf_views.chart_fragment, name="chart"),
    path("export/", pdf_views.export_page, name="export"),
]
