"""Request and response bodies of the auth, me and users routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


class ErrorOut(Schema):
    """Every error: a stable ``code`` for integrators, a ``message`` for people, optional ``details``."""

    code: str
    message: str
    details: Any = None


class TokenIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)


class TokenOut(Schema):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown once; only a digest is stored.")
    expires_at: dt.datetime


NAME = "The person's name as shown: surname first for Chinese names (张小明), else 'First Last'; may be empty."


class MeOut(Schema):
    username: str
    name: str = Field(description=NAME)
    partner: str | None = Field(description="The partner's code; null for a platform operator.")
    partner_kind: str | None
    role: str = Field(description="admin, operator, account_manager, finance; empty for a platform operator.")
    is_platform_operator: bool
    menus: list[str]


class UserOut(Schema):
    username: str
    name: str = Field(description=NAME)
    email: str
    partner: str | None
    role: str
    menus: list[str] = Field(description="The menus the user effectively has.")
    is_active: bool


class UserIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)
    partner: str | None = Field(default=None, description="Partner code; omit for a platform operator.")
    role: str = ""
    email: str = Field(default="", max_length=254)
    first_name: str = Field(default="", max_length=150, description="Given name (名).")
    last_name: str = Field(default="", max_length=150, description="Surname (姓).")
    is_platform_operator: bool = False


class MenusIn(Schema):
    menus: list[str] = Field(description="The full set of menus the user should have (replaces the current set).")


class ApiTokenOut(Schema):
    id: int
    prefix: str = Field(description="The token's first characters, to tell tokens apart; the rest is never stored.")
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    is_active: bool = Field(description="Neither revoked nor expired.")
    is_current: bool = Field(description="The token this request was sent with.")


class RevokedOut(Schema):
    username: str
    revoked: int = Field(description="How many live tokens were revoked.")
