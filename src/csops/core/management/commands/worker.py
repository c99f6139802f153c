import time
import uuid

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from csops.core import scheduler


class Command(BaseCommand):
    help = "Run the scheduler and the background task queue (Ctrl-C to stop)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between checks.")
        parser.add_argument("--once", action="store_true", help="Fire due schedules, run queued tasks, exit.")

    def handle(self, interval, once, **options):
        worker_id = f"csops-{uuid.uuid4().hex[:8]}"
        self.stderr.write(f"Worker {worker_id} started; checking every {interval:g}s.")
        while True:
            for firing in scheduler.tick():
                self.stderr.write(f"{timezone.now():%Y-%m-%d %H:%M:%S} fired {firing.schedule} "
                                  f"(due {firing.due_at:%Y-%m-%d %H:%M} UTC)")
            Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
                   max_tasks=None, worker_id=worker_id, excluded_queue_names=[]).run()
            for work in scheduler.EVERY_PASS:
                if did := work():
                    self.stderr.write(f"{timezone.now():%Y-%m-%d %H:%M:%S} {did}")
            if once:
                return
            time.sleep(interval)
