import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from csops.renewals.actions import take_snapshot


class Command(BaseCommand):
    help = (
        "`snapshot [--month YYYY-MM]`: take every account's ARR snapshot for a month (default: this one). "
        "`forecast [--split YYYY-MM-DD] [--quarters N]`: the renewal forecast's backtest on the renewals "
        "closed since the split (default: half a year ago) and the expected renewal ARR by quarter."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["snapshot", "forecast"])
        parser.add_argument("--month", help="snapshot: YYYY-MM; default: the current month.")
        parser.add_argument("--split", help="forecast: YYYY-MM-DD; the backtest holds out what closed since.")
        parser.add_argument("--quarters", type=int, default=4, help="forecast: fiscal quarters ahead (1-8).")

    def handle(self, action, month, split, quarters, **options):
        if action == "forecast":
            return self.forecast(split, quarters)
        day = dt.date.today()
        if month:
            try:
                day = dt.date.fromisoformat(f"{month}-01")
            except ValueError:
                raise CommandError(f"--month: {month!r} is not a month (YYYY-MM)") from None
        rows = take_snapshot(day)
        self.stdout.write(f"ARR snapshot of {day:%Y-%m}: {rows:,} accounts")

    def forecast(self, split: str | None, quarters: int) -> None:
        from csops.renewals import forecast as fc

        today = dt.date.today()
        day = today - dt.timedelta(days=fc.HELD_OUT_DAYS)
        if split:
            try:
                day = dt.date.fromisoformat(split)
            except ValueError:
                raise CommandError(f"--split: {split!r} is not a date (YYYY-MM-DD)") from None
        if day >= today:
            raise CommandError(f"--split: {day} is not in the past")
        if not 1 <= quarters <= 8:
            raise CommandError("--quarters: give a number from 1 to 8")
        try:
            b = fc.backtest(day, today)
        except fc.NoModel as exc:
            self.stdout.write(f"No backtest: {exc}")
        else:
            self.stdout.write(
                f"Backtest: trained on {b.trained_on:,} renewals closed before {b.split}, held out "
                f"{b.held_out:,} closed {b.split} to {b.end} ({b.lost:,} lost)\n"
                f"  AUC {'-' if b.auc is None else f'{b.auc:.3f}'}; Brier {b.brier:.4f} "
                f"(baseline {b.brier_baseline:.4f})\n"
                f"  won ARR {b.actual:,.0f}; predicted {b.predicted:,.0f}, error {b.error:+,.0f} "
                f"({b.error_percent or 0:+.1f}%); naive baseline {b.baseline:,.0f}, "
                f"error {b.baseline_error:+,.0f} ({b.baseline_error_percent or 0:+.1f}%)"
            )
        result = fc.forecast(today, quarters)
        rows = result.rows()
        self.stdout.write(f"Expected renewal ARR as of {today} (model trained on "
                          f"{result.model.trained_on if result.model else 0:,} closed renewals):")
        for row in [*rows, result.total(rows)]:
            self.stdout.write(
                f"  {row['quarter']:8} {row['renewals']:6,} renewals  basis {row['basis']:>15,.0f}  "
                f"category-only {row['category_only']:>15,.0f}  expected {row['expected']:>15,.0f}"
            )
