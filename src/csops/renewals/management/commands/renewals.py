import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from csops.renewals.actions import take_snapshot


class Command(BaseCommand):
    help = "`snapshot [--month YYYY-MM]`: take every account's ARR snapshot for a month (default: this one)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["snapshot"])
        parser.add_argument("--month", help="YYYY-MM; default: the current month.")

    def handle(self, action, month, **options):
        day = dt.date.today()
        if month:
            try:
                day = dt.date.fromisoformat(f"{month}-01")
            except ValueError:
                raise CommandError(f"--month: {month!r} is not a month (YYYY-MM)") from None
        rows = take_snapshot(day)
        self.stdout.write(f"ARR snapshot of {day:%Y-%m}: {rows:,} accounts")
