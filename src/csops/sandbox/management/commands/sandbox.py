"""`csops sandbox clean [--dry-run] [--today YYYY-MM-DD] [--policy NAME]` and `csops sandbox report`."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from csops.core.models import User
from csops.sandbox import selectors
from csops.sandbox.actions import PolicyMissing, policy_named, run_cleanup
from csops.sandbox.ec2 import ERRORS
from csops.sandbox.models import RunStatus


class Command(BaseCommand):
    help = "Clean the cloud sandbox account by its policy, or report its instances by state."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        clean = commands.add_parser("clean", help="Plan, print the plan, then act (or only plan).")
        clean.add_argument("--dry-run", action="store_true", help="Print the plan; change nothing.")
        clean.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Evaluate as of this date (YYYY-MM-DD), e.g. to preview next week.",
        )
        clean.add_argument("--policy", default="default")
        clean.add_argument("--as", dest="actor", default=None, help="Username recorded on the run.")
        report = commands.add_parser("report", help="The instances by state, as the last run saw them.")
        report.add_argument("--policy", default="default")

    def handle(self, command, **options):
        try:
            policy = policy_named(options["policy"])
        except PolicyMissing as exc:
            raise CommandError(str(exc)) from exc
        if command == "report":
            return self.report(policy)
        actor = None
        if options["actor"]:
            actor = User.objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"--as: no user {options['actor']!r}")
        try:
            run = run_cleanup(
                policy_name=policy.name,
                today=options["today"],
                dry_run=options["dry_run"],
                actor=actor,
                progress=self.stdout.write,
            )
        except ERRORS as exc:
            raise CommandError(f"the EC2 API refused the run: {exc}") from exc
        self.stdout.write(
            f"Run {run.pk}: {run.get_status_display()}; {run.api_calls} API calls "
            f"for {run.instances} instances."
        )
        if run.status in (RunStatus.REFUSED, RunStatus.FAILED):
            raise CommandError(run.message)
        if run.status == RunStatus.PARTLY:
            raise CommandError(f"{run.message} See /sandbox/runs/{run.pk}/.")

    def report(self, policy) -> None:
        run = selectors.last_run()
        self.stdout.write(
            f"Sandbox instances as of run {run.pk} ({run.today}{', a dry run' if run.dry_run else ''})"
            if run
            else "No cleanup has run yet: `csops sandbox clean --dry-run` lists the plan."
        )
        total = 0
        for group in selectors.report(policy):
            if not group.count:
                continue
            unpriced = f" ({group.unpriced} without a price)" if group.unpriced else ""
            self.stdout.write(f"\n{group.label}: {group.count}, ~${group.cost:,.2f}/month{unpriced}")
            total += group.cost
            for i in group.instances:
                cost = "?" if i.monthly_cost is None else f"${i.monthly_cost:,.2f}"
                self.stdout.write(
                    f"  {i.instance_id:20} {i.region:12} {i.instance_type:11} {i.state:8} "
                    f"{i.expiration or ''!s:10} {cost:>10}  {i.name or '(no name)'}"
                    + (f"  [{'; '.join(i.problems)}]" if i.problems else "")
                )
        self.stdout.write(f"\nEstimated compute: ${total:,.2f}/month")
