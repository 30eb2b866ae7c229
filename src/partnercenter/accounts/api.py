"""API routes for tokens, the caller (``/me``) and partner users with their menus."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import AuthenticationError

from partnercenter.core import clock, menus
from partnercenter.core.decorators import api_menu
from partnercenter.core.errors import DomainError, Forbidden, NotFound

from . import selectors, services
from .models import ApiToken, User
from .schemas import ApiTokenOut, ErrorOut, MenusIn, MeOut, RevokedOut, TokenIn, TokenOut, UserIn, UserOut

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
@api_menu(menus.API_SIGNED_IN)
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
@api_menu(menus.API_SIGNED_IN)
def revoke_current_token(request: HttpRequest) -> Status[None]:
    user = current_user(request)
    raw = _bearer(request)
    if raw is None or not services.revoke_raw_token(user=user, raw=raw):
        raise DomainError("This request was not authenticated with a bearer token.", code="no_bearer_token")
    return Status(204, None)


def _token_out(token: ApiToken, current_digest: str | None) -> ApiTokenOut:
    return ApiTokenOut(
        id=token.pk,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        is_active=token.revoked_at is None and token.expires_at > clock.now(),
        is_current=token.digest == current_digest,
    )


@router.get(
    "/auth/tokens",
    response={200: list[ApiTokenOut], 401: ErrorOut},
    summary="The caller's API tokens",
    description="Newest first, revoked and expired ones included. A password change revokes them all.",
)
@api_menu(menus.API_SIGNED_IN)
def list_tokens(request: HttpRequest) -> list[ApiTokenOut]:
    user = current_user(request)
    raw = _bearer(request)
    current = services.token_digest(raw) if raw else None
    return [_token_out(t, current) for t in selectors.tokens_of(user)[:200]]


@router.delete(
    "/auth/tokens/{token_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut},
    summary="Revoke one of the caller's API tokens",
)
@api_menu(menus.API_SIGNED_IN)
def revoke_token(request: HttpRequest, token_id: int) -> Status[None]:
    if not services.revoke_token(user=current_user(request), token_id=token_id):
        raise NotFound(f"No live token {token_id} of yours.")
    return Status(204, None)


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="The caller: partner, role and menus")
@api_menu(menus.API_SIGNED_IN)
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
@api_menu(menus.USER_MANAGEMENT)
def list_users(request: HttpRequest) -> list[UserOut]:
    user = current_user(request)
    return [user_out(u) for u in selectors.manageable_users(user).select_related("partner")]


@router.post("/users", tags=["users"], response={201: UserOut, **ERRORS}, summary="Create a user (platform operator)")
@api_menu(menus.API_PLATFORM_OPERATOR)
def create_user(request: HttpRequest, body: UserIn) -> Status[UserOut]:
    actor = current_user(request)
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
@api_menu(menus.USER_MANAGEMENT)
def set_menus(request: HttpRequest, username: str, body: MenusIn) -> UserOut:
    actor = current_user(request)
    target = selectors.manageable_users(actor).filter(username=username).first()
    if target is None:
        raise NotFound(f"No user {username!r}.")
    return user_out(services.set_menus(actor=actor, user=target, menu_codes=body.menus))


@router.delete(
    "/users/{username}/tokens",
    tags=["users"],
    response={200: RevokedOut, **ERRORS},
    summary="Revoke every API token of a user",
    description="A platform operator may revoke anyone's tokens, a partner admin those of its partner's users. "
    "Recorded in the audit log.",
)
@api_menu(menus.USER_MANAGEMENT)
def revoke_user_tokens(request: HttpRequest, username: str) -> RevokedOut:
    actor = current_user(request)
    target = selectors.token_revocable_users(actor).filter(username=username).first()
    if target is None:
        raise NotFound(f"No user {username!r}.")
    return RevokedOut(
        username=target.username, revoked=services.revoke_tokens(user=target, actor=actor, reason="revoked_by_admin")
    )
