from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the background worker (django-tasks database backend)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="run queued tasks then exit")

    def handle(self, *args: object, **opts: object) -> None:
        extra = ["--batch"] if opts["batch"] else []
        call_command("db_worker", "--interval", "1", *extra)
