"""API routes for tokens, the caller (``/me``) and partner users with their menus."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import AuthenticationError

from partnercenter.core.errors import DomainError, Forbidden, NotFound

from . import selectors, services
from .models import User
from .schemas import ErrorOut, MenusIn, MeOut, TokenIn, TokenOut, UserIn, UserOut

router = Router(tags=["auth"])

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def current_user(request: HttpRequest) -> User:
    """The authenticated caller (both the bearer token and the console session set ``request.user``)."""
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise AuthenticationError()
    return user


def require_platform_operator(user: User) -> None:
    if not user.is_platform_operator:
        raise Forbidden("Only a platform operator may do this.")


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    return raw.strip() if scheme.lower() == "bearer" and raw.strip() else None


def user_out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        name=user.get_full_name(),
        email=user.email,
        partner=user.partner.code if user.partner else None,
        role=user.role,
        menus=sorted(user.menu_codes()),
        is_active=user.is_active,
    )


@router.post(
    "/auth/tokens",
    auth=None,
    response={201: TokenOut, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Exchange a username and password for a bearer token",
    description="Throttled like console sign-in: after repeated failures for a username from one address, "
    "every attempt answers 429 `too_many_attempts` for a while, even with the right password.",
)
def issue_token(request: HttpRequest, body: TokenIn) -> Status[TokenOut]:
    try:
        raw, token = services.issue_token(request=request, username=body.username, password=body.password)
    except DomainError:
        # django-axes flags the request and its middleware would swap our JSON answer for the
        # console's lockout page; the API answers with its own JSON error instead.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        raise
    return Status(201, TokenOut(token=raw, expires_at=token.expires_at))


@router.delete(
    "/auth/tokens/current",
    response={204: None, 400: ErrorOut, 401: ErrorOut},
    summary="Revoke the bearer token of this request",
)
def revoke_current_token(request: HttpRequest) -> Status[None]:
    user = current_user(request)
    raw = _bearer(request)
    if raw is None or not services.revoke_raw_token(user=user, raw=raw):
        raise DomainError("This request was not authenticated with a bearer token.", code="no_bearer_token")
    return Status(204, None)


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="The caller: partner, role and menus")
def me(request: HttpRequest) -> MeOut:
    user = current_user(request)
    partner = user.partner
    return MeOut(
        username=user.username,
        name=user.get_full_name(),
        partner=partner.code if partner else None,
        partner_kind=partner.kind if partner else None,
        role=user.role,
        is_platform_operator=user.is_platform_operator,
        menus=sorted(user.menu_codes()),
    )


@router.get(
    "/users",
    tags=["users"],
    response={200: list[UserOut], **ERRORS},
    summary="Partner users the caller manages",
    description="A partner admin gets its own partner's users; a platform operator every partner user.",
)
def list_users(request: HttpRequest) -> list[UserOut]:
    user = current_user(request)
    if not (user.is_platform_operator or user.is_partner_admin):
        raise Forbidden("Only a partner admin or a platform operator manages users.")
    return [user_out(u) for u in selectors.manageable_users(user).select_related("partner")]


@router.post(
    "/users", tags=["users"], response={201: UserOut, **ERRORS}, summary="Create a user (platform operator)"
)
def create_user(request: HttpRequest, body: UserIn) -> Status[UserOut]:
    actor = current_user(request)
    require_platform_operator(actor)
    created = services.create_user(
        username=body.username,
        password=body.password,
        partner_code=body.partner,
        role=body.role,
        email=body.email,
        first_name=body.first_name,
        last_name=body.last_name,
        is_operator=body.is_platform_operator,
        actor=actor,
    )
    return Status(201, user_out(created))


@router.put(
    "/users/{username}/menus",
    tags=["users"],
    response={200: UserOut, **ERRORS},
    summary="Set a partner user's menus (the partner's admin)",
)
def set_menus(request: HttpRequest, username: str, body: MenusIn) -> UserOut:
    actor = current_user(request)
    if not (actor.is_platform_operator or actor.is_partner_admin):
        raise Forbidden("Only the partner's admin may change menu permissions.")
    target = selectors.manageable_users(actor).filter(username=username).first()
    if target is None:
        raise NotFound(f"No user {username!r}.")
    return user_out(services.set_menus(actor=actor, user=target, menu_codes=body.menus))
