from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from partnercenter import scoping
from partnercenter.core import clock
from partnercenter.core import dashboard as panel_registry
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
    """The home page: the welcome line, the panels the user's menus allow (``core.dashboard``),
    each drawn from its own template and context, and the quick links."""
    user = current_user(request)
    panels = [
        mark_safe(render_to_string(s.panel.template, {**s.context, "panel_code": s.panel.code}, request))  # noqa: S308
        for s in panel_registry.panels_for(user)
    ]
    context = {"customer_count": scoping.customers_for(user).count(), "panels": panels}
    return render(request, "core/dashboard.html", context)
