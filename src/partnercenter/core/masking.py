"""Masking of sensitive customer data on screen (rule E5) and anonymization in exports (X2)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Concat, Length, Repeat, Substr
from django.db.models.lookups import GreaterThanOrEqual, IContains, LessThanOrEqual


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


def may_reveal(user: Any) -> bool:
    """Rule E5: platform operators, partner admins and account managers may see sensitive data."""
    from partnercenter.accounts.roles import MAY_REVEAL_SENSITIVE

    return bool(user.is_platform_operator or (user.partner_id is not None and user.role in MAY_REVEAL_SENSITIVE))


def masked_name_sql(field: str) -> Case:
    """:func:`mask_name` in SQL, on both engines, so a search can match what the user sees."""
    length = Length(field)
    short = LessThanOrEqual(length, 2)
    stars = Repeat(
        Value("*"),
        Case(When(short, then=length - 1), When(GreaterThanOrEqual(length, 6), then=4), default=length - 2),
    )
    first = Substr(field, 1, 1)
    return Case(
        When(short, then=Concat(first, stars)),
        default=Concat(first, stars, Substr(field, length)),
        output_field=CharField(),
    )


def customer_search_q(user: Any, text: str, prefix: str = "", *, name_only: bool = False) -> Q:
    """The customers a search for ``text`` may find, for ``user`` (every search over customers).

    Masked fields must not be recoverable by searching: a user who may reveal them (E5) searches
    the account id, name, email and mobile; anyone else only the account id and the name *as
    shown masked* (``张*明``: the first and last characters), never email or mobile, so a hit
    confirms nothing that is hidden. ``name_only`` is a "customer name" filter (the name alone,
    under the same rule); ``prefix`` reaches the customer through a relation (``"customer__"``).
    """
    text = text.strip()
    if not text:
        return Q()
    if may_reveal(user):
        q = Q(**{f"{prefix}name__icontains": text})
        if not name_only:
            q |= Q(**{f"{prefix}email__icontains": text}) | Q(**{f"{prefix}mobile__icontains": text})
    else:
        q = Q(IContains(masked_name_sql(f"{prefix}name"), text))
    if not name_only:
        q |= Q(**{f"{prefix}account_id__icontains": text})
    return q
