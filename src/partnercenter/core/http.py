"""Reading a request body with a route's own size limit."""

from __future__ import annotations

from django.http import HttpRequest

from partnercenter.core.errors import DomainError


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The body, at most ``limit`` bytes, else 413 before more than ``limit + 1`` bytes are read.

    ``request.body`` stops at ``DATA_UPLOAD_MAX_MEMORY_SIZE``, meant for forms; a route that takes
    large uploads reads the stream itself with its own limit.
    """
    too_large = PayloadTooLarge(
        f"The body is larger than this route accepts ({limit} bytes).", details={"limit_bytes": limit}
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    if hasattr(request, "_body"):  # already read (a test client or a middleware)
        data: bytes = request._body
    else:
        data = request.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data
