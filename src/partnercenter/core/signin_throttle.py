"""Sign-in throttling with two limits, on the console and on ``POST /api/v1/auth/tokens``.

django-axes compares one count against one limit. The product needs two: failures of one username
from one address (``AXES_FAILURE_LIMIT``, 5) and failures from one address across every username
(``SIGNIN_ADDRESS_FAILURE_LIMIT``, 20), both within the cool-off window. ``AXES_LOCKOUT_PARAMETERS``
lists the pair first and the address second; this handler reads the two counts apart.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpRequest


def _failures(attempts: QuerySet[Any]) -> int:
    return int(attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0)


class SignInThrottle(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        pair, address = self.get_user_attempts(request, credentials)
        pair_failures = _failures(pair)
        if _failures(address) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT:
            # Reported on the pair's scale, so axes' single limit locks the address out.
            return max(pair_failures, get_failure_limit(request, credentials))
        return pair_failures

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        # A successful sign-in clears its own username's failures only: signing in to one's own
        # account must not wipe the address's failures against other usernames.
        pair = self.filter_user_attempts(request, credentials)[0]
        count, _ = pair.delete()
        return int(count)
