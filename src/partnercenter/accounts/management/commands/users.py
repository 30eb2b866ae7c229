"""``partnercenter users create USERNAME --partner CODE --role ROLE [--email EMAIL]`` or
``users create USERNAME --operator``; the password comes from ``--password``, the environment
variable ``PARTNERCENTER_NEW_USER_PASSWORD`` or a prompt.

``partnercenter users revoke-tokens USERNAME`` revokes every API token of the user (recorded in
the audit log), e.g. when a token may have leaked."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.accounts import services
from partnercenter.accounts.models import User
from partnercenter.accounts.roles import Role
from partnercenter.core.errors import DomainError
from partnercenter.partners.management.commands.partners import command_error

PASSWORD_ENV = "PARTNERCENTER_NEW_USER_PASSWORD"


class Command(BaseCommand):
    help = "Create partner users and platform operators; revoke a user's API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,revoke-tokens}")
        revoke = sub.add_parser("revoke-tokens", help="Revoke every API token of a user.")
        revoke.add_argument("username")
        create = sub.add_parser("create", help="Create a user.")
        create.add_argument("username")
        create.add_argument("--partner", default=None, help="partner code (partner users)")
        create.add_argument("--role", default="", choices=Role.values, help="role of a partner user")
        create.add_argument("--operator", action="store_true", help="a platform operator (no partner)")
        create.add_argument("--email", default="")
        create.add_argument(
            "--password", default=None, help=f"prefer ${PASSWORD_ENV} or the prompt: arguments show up in ps"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "revoke-tokens":
            self._revoke_tokens(opts["username"])
            return
        if opts["operator"] and (opts["partner"] or opts["role"]):
            raise CommandError("A platform operator has no --partner or --role.")
        if not opts["operator"] and not (opts["partner"] and opts["role"]):
            raise CommandError("A partner user needs --partner and --role (or use --operator).")
        password = opts["password"] or os.environ.get(PASSWORD_ENV) or self._prompt()
        try:
            user = services.create_user(
                username=opts["username"],
                password=password,
                partner_code=opts["partner"],
                role=opts["role"],
                email=opts["email"],
                is_operator=opts["operator"],
            )
        except DomainError as exc:
            raise command_error(exc) from exc
        what = "platform operator" if user.is_platform_operator else f"{user.role} of {opts['partner']}"
        self.stdout.write(f"Created user {user.username} ({what}).")

    def _revoke_tokens(self, username: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        count = services.revoke_tokens(user=user, actor=None, reason="revoked_by_cli")
        self.stdout.write(f"Revoked {count} API token(s) of {user.username}.")

    def _prompt(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError(f"No password: pass --password, set {PASSWORD_ENV}, or run interactively.")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first
