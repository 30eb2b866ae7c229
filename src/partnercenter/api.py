"""The REST API at /api/v1: one NinjaAPI, authentication, and errors as ``{code, message}``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import APIKeyCookie, HttpBearer

from partnercenter import scoping
from partnercenter.accounts import services as account_services
from partnercenter.core.decorators import declared_menu
from partnercenter.core.errors import DomainError

log = logging.getLogger("partnercenter.api")


# Both authentications end with the menu gate: an exception raised here becomes the API's JSON
# error (403), and it runs before the request body or query is parsed.
class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = account_services.user_for_token(token)
        if user is not None:
            request.user = user
            scoping.require_api_access(user, declared_menu(request))
        return user


class ConsoleSession(APIKeyCookie):
    """The console's session cookie, with Django's CSRF check on unsafe methods."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> Any:  # the session middleware already read the cookie
        return None

    def authenticate(self, request: HttpRequest, key: Any) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            scoping.require_api_access(user, declared_menu(request))
            return user
        return None

    def __call__(self, request: HttpRequest) -> Any:
        if self.csrf:
            from ninja.utils import check_csrf

            error = check_csrf(request)
            if error:
                return None
        return self.authenticate(request, None)


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
    "required": ["code", "message"],
}
# Answers the API layer gives whatever the route: (status, description, when it applies).
_COMMON_ERRORS: list[tuple[int, str, Callable[[dict[str, Any]], bool]]] = [
    (400, "The body is not valid JSON or could not be read.", lambda op: "requestBody" in op),
    (401, "Not signed in, or the bearer token is not valid.", lambda op: bool(op.get("security"))),
    (413, "The body is larger than the route accepts.", lambda op: "requestBody" in op),
    (422, "A parameter or the body is not valid.", lambda op: bool(op.get("parameters") or "requestBody" in op)),
]


class PartnerCenterAPI(NinjaAPI):
    """Publishes, on every operation, the error answers that come from the API layer itself."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description, applies in _COMMON_ERRORS:
                    # ninja keys responses by int; a str key would be a duplicate in the JSON.
                    if applies(operation) and status not in responses and str(status) not in responses:
                        responses[status] = {
                            "description": description,
                            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
                        }
        return schema


api = PartnerCenterAPI(
    title="Partner Center API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), ConsoleSession(csrf=True)],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request: HttpRequest, status: int, code: str, message: str, details: Any = None) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message, exc.details)


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc]
    if parts[:2] == ["body", "body"]:  # ninja puts the view's parameter name after "body"
        parts = parts[1:]
    return ".".join(parts)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = [{"where": _where(e.get("loc", [])), "why": e.get("msg", "")} for e in exc.errors]
    return _error(request, 422, "validation_error", "The request is not valid.", details)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthorized", "Sign in or send a valid 'Authorization: Bearer' token.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):  # ninja could not parse the body
        return _error(
            request,
            400,
            "invalid_json",
            "The request body is not valid JSON.",
            [{"where": "body", "why": str(exc.__cause__)}],
        )
    return _error(request, exc.status_code, _HTTP_CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "payload_too_large", "The request body is larger than this route accepts.")


@api.exception_handler(MultiPartParserError)
@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def _unreadable_body(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(
        request, 400, "bad_request", "The request body could not be read.", [{"where": "body", "why": str(exc)}]
    )


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Never a traceback or an HTML page to an integrator; the details go to the log.
    log.error("API error on %s %s", request.method, request.path, exc_info=exc)
    return _error(request, 500, "server_error", "Something went wrong on our side; it has been logged.")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def _register_routers() -> None:
    from partnercenter.accounts.api import router as accounts_router
    from partnercenter.partners.api import router as partners_router

    api.add_router("/", accounts_router)
    api.add_router("/", partners_router)
    for name, prefix in (
        ("usage", "/usage"),
        ("expenditure", "/expenditure"),
        ("billing", "/"),  # the partner bills live at /bills…, beside the other top-level nouns
        ("customer_bills", "/customer-bills"),
        ("incentives", "/incentives"),
        ("exports", "/exports"),
        ("leads", "/leads"),
        ("alerts", "/customer-alerts"),
        ("marketplace", "/marketplace"),
        ("contracts", "/payment-contracts"),
    ):
        module = __import__(f"partnercenter.{name}.api", fromlist=["router"])
        api.add_router(prefix, module.router)
    from partnercenter.billing.payment_api import router as payments_router

    api.add_router("/billing", payments_router)
    from partnercenter.customer_bills.bill_api import router as customer_bill_pages_router

    api.add_router("/customer-bills", customer_bill_pages_router)
    from partnercenter.incentives.details_api import router as incentive_details_router
    from partnercenter.incentives.payout_api import router as incentive_payouts_router

    api.add_router("/incentive-details", incentive_details_router)
    api.add_router("/incentive-payouts", incentive_payouts_router)


_register_routers()
