from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from partnercenter import scoping
from partnercenter.core import clock
from partnercenter.core.decorators import current_user


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        return JsonResponse({"status": "error", "database": str(exc.__class__.__name__)}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor, "time": clock.now().isoformat()})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(request, "core/dashboard.html", {"customer_count": scoping.customers_for(user).count()})
