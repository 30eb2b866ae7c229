"""Masking of sensitive customer data on screen (rule E5) and anonymization in exports (X2)."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def mask_name(name: str) -> str:
    """``张小明`` → ``张*明``; ``Alice Corp`` → ``A****p``; one or two characters keep the first.

    At most four stars, so the mask does not give away the name's length.
    """
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1)
    return name[0] + "*" * min(len(name) - 2, 4) + name[-1]


def mask_email(email: str) -> str:
    """``abcdef@example.com`` → ``ab***@example.com``."""
    if not email or "@" not in email:
        return "***" if email else ""
    local, _, domain = email.partition("@")
    return f"{local[:2]}***@{domain}"


def mask_mobile(mobile: str) -> str:
    """``13800000012`` → ``138****0012``; shorter numbers keep their last four digits."""
    digits = [c for c in mobile if c.isdigit()]
    if not digits:
        return ""
    if len(digits) >= 11:
        return "".join(digits[-11:-8]) + "****" + "".join(digits[-4:])
    return "****" + "".join(digits[-4:])


def anonymize(value: str, *, kind: str) -> str:
    """A stable pseudonym for exports: the same input gives the same token, nothing readable.

    Keyed with the secret key, so a short value (a mobile number) cannot be found by trying
    every candidate.
    """
    if not value:
        return ""
    key = settings.SECRET_KEY.encode()
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"{kind}-{digest}"
