import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from csops.cockpit.actions import seed_success_plans
from csops.customers.actions import seed_customers
from csops.customers.models import Segment
from csops.customers.synthetic import generate_chunks
from csops.health.actions import seed_outcomes
from csops.timeline.actions import seed_activities
from csops.usage.actions import seed_usage

CHUNK = 20_000  # accounts generated, validated and written at a time


class Command(BaseCommand):
    help = "Generate a deterministic, realistic customer base of any size."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--usage-weeks",
            type=int,
            default=52,
            help="Weeks of synthetic product usage per account (0 for none).",
        )

    def handle(self, accounts, seed, usage_weeks, **options):
        if not 0 <= usage_weeks <= 520:
            raise CommandError("--usage-weeks: give a number from 0 to 520")
        if not 1 <= accounts <= 5_000_000:
            raise CommandError("--accounts: give a number from 1 to 5,000,000")
        if not Segment.objects.exists():
            raise CommandError("no segments configured: run `csops config apply` with the defaults first")
        started = time.monotonic()
        self.stderr.write(f"Generating {accounts:,} accounts (seed {seed}) …")
        done = 0
        for chunk in generate_chunks(accounts, seed, chunk_size=CHUNK):
            seed_customers(chunk, actor=None)
            done += len(chunk.accounts)
            self.stderr.write(
                f"  {done:,} / {accounts:,} accounts written ({time.monotonic() - started:.0f}s)"
            )
        if usage_weeks:
            seed_usage(end=dt.date.today(), weeks=usage_weeks, seed=seed, progress=self.stderr.write)
            activities = seed_activities(end=dt.date.today(), seed=seed)
            self.stderr.write(f"  timeline: {activities:,} calls and meetings")
            plans = seed_success_plans(seed=seed)
            self.stderr.write(f"  success plans: {plans:,}")
            outcomes = seed_outcomes(end=dt.date.today(), seed=seed)
            self.stderr.write(f"  outcomes: {outcomes:,} past renewals (renewed, contracted or churned)")
        self.stdout.write(f"Seeded {accounts:,} accounts in {time.monotonic() - started:.1f}s")
