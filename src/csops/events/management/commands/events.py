from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from csops.events.attendance import import_attendance, read_csv
from csops.events.messages import send_due
from csops.events.models import Event


class Command(BaseCommand):
    help = (
        "Webinars and labs: `attendance EVENT_ID FILE.csv` imports the webinar tool's attendance export "
        "(email, name, minutes attended; nothing is written if any row is bad); `emails` queues the "
        "confirmations, reminders and post-event emails due now (the worker does it every 5 minutes)."
    )

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["attendance", "emails"])
        parser.add_argument("event", nargs="?", type=int, help="attendance: the event's id")
        parser.add_argument("file", nargs="?", type=Path, help="attendance: the CSV file")
        parser.add_argument("--no-ctas", action="store_true", help="attendance: raise no Lifecycle CTAs")

    def handle(self, verb, event, file, no_ctas, **options):
        if verb == "emails":
            self.stdout.write(str(send_due()))
            return
        if event is None or file is None:
            raise CommandError("attendance: give EVENT_ID FILE.csv")
        found = Event.objects.filter(pk=event).first()
        if found is None:
            raise CommandError(f"attendance: no event {event}")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: {exc}") from exc
        try:
            report = import_attendance(found, read_csv(text), actor=None, raise_ctas=not no_ctas)
        except ValidationError as exc:
            raise CommandError(f"{file}: nothing imported:\n" + "\n".join(exc.messages)) from exc
        self.stdout.write(f"{found}: {report}")
