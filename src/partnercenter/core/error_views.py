"""The product's own error answers (never Django's debug pages): JSON under /api/, pages elsewhere.

Wired as ``handler400/403/404/500`` in ``partnercenter/urls.py``. Errors inside API routes are
answered by the API's own handlers (``partnercenter/api.py``); these catch what happens before
a route runs (an unknown /api/ URL, a middleware failure).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_json(status: int, code: str, message: str, details: Any = None) -> JsonResponse:
    """The API's error shape, ``{code, message}`` plus ``details`` when there are any."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JsonResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return error_json(400, "bad_request", "The request could not be read.")
    return HttpResponse(loader.get_template("400.html").render({}), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return error_json(403, "forbidden", "You may not do this.")
    return render(request, "403.html", {"message": str(exception or "")}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return error_json(404, "not_found", f"No API route at {request.path_info}.")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return error_json(500, "server_error", "Something went wrong on our side; it has been logged.")
    # No request context: the database may be the reason we are here.
    return HttpResponse(loader.get_template("500.html").render({}), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api(request):
        return error_json(403, "csrf_failed", "The CSRF check failed: send the X-CSRFToken header.")
    message = _("Your form expired or came from another site. Reload the page and try again.")
    return render(request, "403.html", {"message": message}, status=403)


class ApiMethodNotAllowedMiddleware:
    """The API answers a wrong HTTP method in its own JSON error shape (with the ``Allow`` header)
    rather than the plain text the routing layer produces, like every other API error."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        if (
            response.status_code != 405
            or not is_api(request)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        allowed = response.get("Allow", "")
        replaced = error_json(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path_info}.",
            {"allowed": [m.strip() for m in allowed.split(",") if m.strip()]},
        )
        if allowed:
            replaced["Allow"] = allowed
        return replaced


def _small_json(request: HttpRequest) -> bool:
    from django.conf import settings

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return 0 < length <= limit and request.content_type == "application/json"


class ApiNulCharacterMiddleware:
    """An API path or query holding U+0000 (NUL, ``%00``) is refused with 422 before routing: no
    product value contains it and PostgreSQL text cannot store or compare it. (JSON bodies are
    checked when they are small enough to hold
    in memory; the large usage batches are checked row by row by ingestion.)"""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            where = "path" if "\x00" in request.path_info else None
            if where is None and "%00" in request.META.get("QUERY_STRING", ""):
                where = "query"
            if where is None and _small_json(request) and (b"\\u0000" in request.body or b"\x00" in request.body):
                where = "body"
            if where:
                return error_json(
                    422,
                    "validation_error",
                    "Text must not contain the NUL character (U+0000).",
                    [{"where": where, "why": "NUL character"}],
                )
        response: HttpResponse = self.get_response(request)
        return response
