import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from csops.programs import mailcatcher


class Command(BaseCommand):
    help = "Catch mail on loopback (for a demo or a trial): every message is kept as an .eml file."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.EMAIL_PORT)
        parser.add_argument("--dir", type=Path, default=settings.DATA_DIR / "mail")

    def handle(self, port, dir, **options):
        if mailcatcher.start(dir, port=port) is None:
            raise CommandError(f"something already listens on 127.0.0.1:{port}")
        self.stdout.write(f"Catching mail on 127.0.0.1:{port} into {dir}/ (Ctrl-C to stop)")
        while True:
            time.sleep(3600)
