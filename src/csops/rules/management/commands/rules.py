import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from csops.core.models import User
from csops.health.selectors import NoActiveScorecard
from csops.rules.actions import business_today, run_rules
from csops.rules.backtest import backtest_rule
from csops.rules.definition import RuleError
from csops.rules.models import Rule, Trigger


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of: not a date (use YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Rules: `run [--rule NAME]… [--dry-run] [--as-of DATE]` evaluates the enabled rules (or the named "
        "ones) over every account and applies their actions; `list` shows them; "
        "`backtest --rule NAME [--days 30] [--step 1]` replays a rule over past days."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["run", "list", "backtest"])
        parser.add_argument("--rule", action="append", dest="rules", help="A rule's name (repeatable).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would happen; write nothing.")
        parser.add_argument("--as-of", default=None, help="Evaluate as of this date (default today).")
        parser.add_argument("--days", type=int, default=30, help="Backtest: days to replay (1 to 366).")
        parser.add_argument("--step", type=int, default=1, help="Backtest: days between replayed days.")
        parser.add_argument("--as", dest="username", default=None, help="Record the run as this user.")

    def handle(self, action, rules, dry_run, as_of, days, step, username, **options):
        actor = None
        if username and (actor := User.objects.filter(username=username).first()) is None:
            raise CommandError(f"--as: no user {username!r}")
        try:
            if action == "list":
                self.list_rules()
            elif action == "run":
                self.run(rules, dry_run, _date(as_of), actor)
            else:
                self.backtest(rules, days, step, _date(as_of), actor)
        except (RuleError, NoActiveScorecard) as exc:
            raise CommandError(str(exc)) from exc

    def list_rules(self) -> None:
        for rule in Rule.objects.all():
            state = "enabled" if rule.enabled else "disabled"
            self.stdout.write(f"{rule.name:45} {rule.schedule:18} {state}")

    def run(self, rules, dry_run, as_of, actor) -> None:
        verb = "Dry run of" if dry_run else "Running"
        self.stderr.write(f"{verb} {', '.join(rules) if rules else 'every enabled rule'} …")
        run = run_rules(
            names=rules,
            dry_run=dry_run,
            as_of=as_of,
            trigger=Trigger.MANUAL,
            actor=actor,
            progress=self.stderr.write,
        )
        results = list(run.results.all())
        if dry_run:
            for result in results:
                for sample in result.sample:
                    for row in sample["rows"]:
                        self.stdout.write(f"    {result.rule} · {sample['action']}: {row}")
        failed = [r for r in results if r.error]
        self.stdout.write(
            f"Run {run.pk}: {len(results)} rule(s) in {run.seconds:.1f}s"
            + (f", {len(failed)} failed" if failed else "")
            + (" (dry run: nothing written)" if dry_run else "")
        )
        if failed:
            raise CommandError(f"{len(failed)} rule(s) failed: {', '.join(r.rule for r in failed)}")

    def backtest(self, rules, days, step, as_of, actor) -> None:
        if not rules or len(rules) != 1:
            raise CommandError("backtest: give one --rule NAME")
        if not 1 <= days <= 366:
            raise CommandError("--days: give a number from 1 to 366")
        if not 1 <= step <= days:
            raise CommandError("--step: give a number from 1 to --days")
        rule = Rule.objects.filter(name=rules[0]).first()
        if rule is None:
            raise CommandError(f"no rule {rules[0]!r}")
        report = backtest_rule(
            rule,
            days=days,
            step_days=step,
            as_of=as_of or business_today(),
            actor=actor,
            progress=self.stderr.write,
        )
        data = report.report
        self.stdout.write(
            f"Backtest {report.pk}: {rule.name} over {days} days to {report.as_of}: "
            f"{data['at_start']:,} in the audience on day 1, {data['entered']:,} entries later, "
            f"{data['accounts']:,} accounts in all "
            f"({report.seconds:.1f}s)"
        )
