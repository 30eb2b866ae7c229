"""`make run`: migrate, load the demo into an empty database, then serve with a worker beside."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from partnercenter.partners.models import Partner


class Command(BaseCommand):
    help = "Migrate, load the demo when the database is empty, and serve with a worker (Ctrl-C stops)."

    def handle(self, *args: object, **opts: object) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", "--noinput", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        if not Partner.objects.exists():
            self.stdout.write("Empty database: loading the demo organisation …")
            call_command("demo")
        port = os.environ.get("PORT", "8000")
        cli = [sys.executable, "-m", "partnercenter.cli"]
        procs = [
            subprocess.Popen([*cli, "worker"]),  # noqa: S603
            subprocess.Popen([*cli, "serve"]),  # noqa: S603
        ]
        from partnercenter.core.demo_signins import signin_table

        self.stdout.write(f"\nPartner Center at http://127.0.0.1:{port}  (API docs: /api/v1/docs)\n")
        self.stdout.write(signin_table())
        self.stdout.write("\nCtrl-C stops the server and the worker.\n")
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
