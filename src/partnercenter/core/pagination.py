"""Parameters shared by API routes: page bounds (published in the OpenAPI document; beyond
them 422), calendar dates and the ``Idempotency-Key`` header of writes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from ninja import Field, Header, Schema
from pydantic import BeforeValidator

MAX_OFFSET = 10**9


def limit_field(default: int = 50, maximum: int = 500) -> Any:
    return Field(default, ge=1, le=maximum, description=f"Items per page, 1 to {maximum}.")


def offset_field() -> Any:
    return Field(0, ge=0, le=MAX_OFFSET, description=f"Items to skip, 0 to {MAX_OFFSET}.")


class PageQuery(Schema):
    limit: int = limit_field()
    offset: int = offset_field()


def _iso_date(value: Any) -> Any:
    # pydantic alone reads "0" or "1700000000" as a Unix timestamp; the API takes only YYYY-MM-DD.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

# A write route's ``idempotency_key: IdempotencyKey = None``: what a repeat answers is the route's own rule.
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
