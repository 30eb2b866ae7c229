from django.contrib import admin
from django.urls import include, path

from partnercenter.api import api
from partnercenter.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/", include("partnercenter.accounts.urls")),
    path("customers/", include("partnercenter.partners.urls")),
    path("expenditure/", include("partnercenter.expenditure.urls")),
    path("partner-bills/", include("partnercenter.billing.urls")),
    path("customer-bills/", include("partnercenter.customer_bills.urls")),
    path("incentives/", include("partnercenter.incentives.urls")),
    path("exports/", include("partnercenter.exports.urls")),
    path("leads/", include("partnercenter.leads.urls")),
    path("customer-alerts/", include("partnercenter.alerts.urls")),
    path("marketplace/", include("partnercenter.marketplace.urls")),
    path("payment-contracts/", include("partnercenter.contracts.urls")),
    path("", include("partnercenter.core.urls")),
]

# The product's own error answers: pages for the console, JSON under /api/.
handler400 = "partnercenter.core.error_views.bad_request"
handler403 = "partnercenter.core.error_views.permission_denied"
handler404 = "partnercenter.core.error_views.page_not_found"
handler500 = "partnercenter.core.error_views.server_error"
