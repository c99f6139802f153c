import time

from django.core.management.base import BaseCommand, CommandError

from csops.customers.actions import seed_customers
from csops.customers.models import Segment
from csops.customers.synthetic import generate


class Command(BaseCommand):
    help = "Generate a deterministic, realistic customer base of any size."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, accounts, seed, **options):
        if not 1 <= accounts <= 5_000_000:
            raise CommandError("--accounts: give a number from 1 to 5,000,000")
        if not Segment.objects.exists():
            raise CommandError("no segments configured: run `csops config apply` with the defaults first")
        started = time.monotonic()
        self.stderr.write(f"Generating {accounts:,} accounts (seed {seed}) …")
        dataset = generate(accounts, seed)
        self.stderr.write(f"Generated in {time.monotonic() - started:.1f}s; writing …")
        seed_customers(dataset, actor=None, progress=self.stderr.write)
        self.stdout.write(f"Seeded {accounts:,} accounts in {time.monotonic() - started:.1f}s")
