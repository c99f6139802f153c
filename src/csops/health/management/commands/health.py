import datetime as dt
import re

from django.core.management.base import BaseCommand, CommandError

from csops.health.actions import run_backtest, score_accounts
from csops.health.selectors import NoActiveScorecard


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of: not a date (use YYYY-MM-DD): {value!r}") from None


def _days(value: str) -> int:
    match = re.fullmatch(r"(\d+)\s*d?", value.strip())
    if not match or not 1 <= int(match.group(1)) <= 3650:
        raise CommandError(f"--horizon: give days, e.g. 180d (1 to 3650): {value!r}")
    return int(match.group(1))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = (
        "Health scores: `score [--as-of DATE]` scores every account; "
        "`backtest --as-of DATE --horizon 180d` checks past scores against renewal outcomes."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["score", "backtest"])
        parser.add_argument("--as-of", default=None, help="Score as of this date (default today).")
        parser.add_argument("--horizon", default="180d", help="Backtest: outcomes within this many days.")

    def handle(self, action, as_of, horizon, **options):
        as_of_date = _date(as_of) if as_of else None
        try:
            if action == "backtest":
                if as_of_date is None:
                    raise CommandError("backtest: give --as-of DATE, a date in the past")
                self.report(run_backtest(as_of=as_of_date, horizon_days=_days(horizon)))
                return
            run = score_accounts(as_of=as_of_date)
        except NoActiveScorecard as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Scored {run.accounts:,} accounts as of {run.as_of} with {run.scorecard} "
            f"in {run.seconds:.1f}s; {run.changed:,} changed"
        )

    def report(self, result) -> None:
        report = result.report
        write = self.stdout.write
        write(
            f"Backtest #{result.pk}: {report['scorecard']} as of {report['as_of']}, "
            f"outcomes within {report['horizon_days']} days"
        )
        if not report["population"]:
            write("No scored account has a renewal outcome in that window: nothing to test.")
            return
        write(
            f"  accounts with an outcome: {report['population']:,}; lost (churned or contracted): "
            f"{report['lost']:,} ({_percent(report['base_rate'])})"
        )
        auc = report["auc"]
        write(f"  ROC AUC: {auc:.3f}" if auc is not None else "  ROC AUC: n/a (only one kind of outcome)")
        for band in report["bands"]:
            write(f"  {band['color']:>6}: {band['accounts']:>7,} accounts, lost {_percent(band['rate'])}")
        lift = report["lift_red"]
        write(f"  lift of the red band: {lift:.2f}x" if lift is not None else "  lift of the red band: n/a")
        write("  calibration (score bin: accounts, lost):")
        for row in report["calibration"]:
            if row["accounts"]:
                write(f"    {row['bin']:>7}: {row['accounts']:>7,}  {_percent(row['rate'])}")
        write("  measures by predictive power (AUC where the measure applies):")
        for measure in report["measures"]:
            auc = "n/a" if measure["auc"] is None else f"{measure['auc']:.3f}"
            write(f"    {measure['name']:<28} AUC {auc:>5}  coverage {measure['coverage']:.0%}")
        write(f"Report page: /health/backtests/{result.pk}/")
