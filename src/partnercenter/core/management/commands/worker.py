import logging
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

TICK_SECONDS = 60
log = logging.getLogger(__name__)


def _tick_forever(stop: threading.Event) -> None:
    # Periodic catch-ups (bills due on the 5th, the daily estimate) run beside the task queue;
    # each is idempotent, so a failed or missed tick is made good by the next one.
    while not stop.is_set():
        try:
            call_command("tick")
        except Exception:
            log.exception("periodic tick failed")
        finally:
            connection.close()
        stop.wait(TICK_SECONDS)


class Command(BaseCommand):
    help = "Run the background worker (django-tasks database backend) and the periodic catch-ups every minute."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="run queued tasks then exit")

    def handle(self, *args: object, **opts: object) -> None:
        extra = ["--batch"] if opts["batch"] else []
        stop = threading.Event()
        if not opts["batch"]:
            threading.Thread(target=_tick_forever, args=(stop,), name="tick", daemon=True).start()
        try:
            call_command("db_worker", "--interval", "1", *extra)
        finally:
            stop.set()
