import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from csops.health.actions import score_accounts
from csops.health.selectors import NoActiveScorecard


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of: not a date (use YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Health scores: `score [--as-of DATE]` scores every account."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["score"])
        parser.add_argument("--as-of", default=None, help="Score as of this date (default today).")

    def handle(self, action, as_of, **options):
        as_of_date = _date(as_of) if as_of else None
        try:
            run = score_accounts(as_of=as_of_date)
        except NoActiveScorecard as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Scored {run.accounts:,} accounts as of {run.as_of} with {run.scorecard} "
                          f"in {run.seconds:.1f}s; {run.changed:,} changed")
