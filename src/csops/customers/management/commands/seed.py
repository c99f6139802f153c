import time

from django.core.management.base import BaseCommand, CommandError

from csops.customers.actions import seed_customers
from csops.customers.models import Segment
from csops.customers.synthetic import generate_chunks

CHUNK = 20_000  # accounts generated, validated and written at a time


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
        done = 0
        for chunk in generate_chunks(accounts, seed, chunk_size=CHUNK):
            seed_customers(chunk, actor=None)
            done += len(chunk.accounts)
            self.stderr.write(f"  {done:,} / {accounts:,} accounts written "
                              f"({time.monotonic() - started:.0f}s)")
        self.stdout.write(f"Seeded {accounts:,} accounts in {time.monotonic() - started:.1f}s")
