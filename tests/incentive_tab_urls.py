"""The URLs of the project with a stand-in for the Payout applications tab (``incentives:payouts``)
while the branch that adds that page is not merged: the tab bar links to all three tabs. Used by
the Details tab's page tests only when the route is missing (:func:`payouts_tab_route`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, include, path, reverse

from partnercenter import urls as project
from partnercenter.incentives import urls as incentive_urls


def _not_built(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Payout applications are not built on this branch.", status=404)


_incentives = ([*incentive_urls.urlpatterns, path("payouts/", _not_built, name="payouts")], "incentives")
urlpatterns = [
    path("incentives/", include(_incentives)) if str(p.pattern) == "incentives/" else p for p in project.urlpatterns
]
handler400, handler403 = project.handler400, project.handler403
handler404, handler500 = project.handler404, project.handler500


def payouts_tab_route(settings: Any) -> None:
    try:
        reverse("incentives:payouts")
    except NoReverseMatch:
        settings.ROOT_URLCONF = __name__
