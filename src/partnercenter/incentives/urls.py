"""Incentive Management (seed 003): the Summary tab (views), the Details tab (details_views) and
payout applications (payout_views). Each module lists its own routes."""

from . import details_views, payout_views, views

app_name = "incentives"
urlpatterns = [*views.urlpatterns, *details_views.urlpatterns, *payout_views.urlpatterns]
