import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the console and API with gunicorn (port from PORT, default 8000)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=None, help="address:port (default 127.0.0.1:$PORT)")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))

    def handle(self, *args: object, **opts: object) -> None:
        bind = opts["bind"] or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "partnercenter.wsgi:application",
            "--bind",
            str(bind),
            "--workers",
            str(opts["workers"]),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
        os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn
