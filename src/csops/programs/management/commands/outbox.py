from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from csops.core.models import User
from csops.programs.delivery_actions import retry_messages
from csops.programs.models import MessageStatus, OutboxMessage
from csops.programs.outbox import DeliveryReport, deliver

CHUNK = 500  # messages per delivery pass: a progress line after each


def _positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise CommandError(f"{option}: give a whole number of 1 or more, not {value}")


class Command(BaseCommand):
    help = (
        "The email outbox: `deliver [--limit N]` sends what is due over SMTP; "
        "`list [--status S] [--limit N]` shows the newest messages; "
        "`retry ID…` queues failed or unknown messages again."
    )

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="{deliver,list,retry}")
        send = verbs.add_parser("deliver", help="Send the messages that are due, oldest first.")
        send.add_argument("--limit", type=int, default=None, help="Send at most N messages.")
        show = verbs.add_parser("list", help="The newest messages.")
        show.add_argument(
            "--status", default=None, help=f"Only this status: {', '.join(MessageStatus.values)}."
        )
        show.add_argument("--limit", type=int, default=50, help="How many (default 50).")
        again = verbs.add_parser("retry", help="Queue failed or unknown messages again.")
        again.add_argument("ids", nargs="+", type=int, metavar="ID", help="Outbox message ids.")
        again.add_argument("--as", dest="username", default=None, help="Record the retry as this user.")

    def handle(self, verb, **options):
        if verb == "deliver":
            self.deliver(options["limit"])
        elif verb == "list":
            self.list_messages(options["status"], options["limit"])
        else:
            self.retry(options["ids"], options["username"])

    def deliver(self, limit: int | None) -> None:
        """In passes of CHUNK messages, with a progress line after each; the report at the end."""
        _positive(limit, "--limit")
        total = DeliveryReport()
        due = OutboxMessage.objects.filter(
            status=MessageStatus.QUEUED, attempt_at__isnull=True, next_attempt_at__lte=timezone.now()
        ).count()
        if due > CHUNK:
            self.stderr.write(f"{due:,} message(s) due; delivering{f' up to {limit:,}' if limit else ''} …")
        while limit is None or _handled(total) < limit:
            size = CHUNK if limit is None else min(CHUNK, limit - _handled(total))
            report = deliver(limit=size)
            for name in ("sent", "retried", "failed", "bounced", "unknown", "seconds"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            handled = _handled(report)
            if handled < size:
                break  # nothing more is due
            if report.sent + report.failed + report.bounced == 0:
                self.stderr.write("Nothing went through in the last pass; the rest waits for the next run.")
                break
            self.stderr.write(f"  … {total}")
        self.stdout.write(f"Outbox: {total}")

    def list_messages(self, status: str | None, limit: int) -> None:
        _positive(limit, "--limit")
        messages = OutboxMessage.objects.all()
        if status is not None:
            if status not in MessageStatus.values:
                raise CommandError(f"--status: {status!r} is not one of {', '.join(MessageStatus.values)}")
            messages = messages.filter(status=status)
        counts = dict(OutboxMessage.objects.values_list("status").annotate(n=Count("pk")).order_by())
        summary = ", ".join(f"{counts[s]:,} {s}" for s in MessageStatus.values if s in counts)
        self.stdout.write(f"Outbox: {summary or 'empty'}")
        for m in messages.order_by("-created_at", "-pk")[:limit]:
            when = m.sent_at or (m.next_attempt_at if m.status == MessageStatus.QUEUED else None)
            self.stdout.write(
                f"{m.pk:>8}  {m.status:9} {m.kind:12} {m.created_at:%Y-%m-%d %H:%M}  "
                f"{f'{when:%Y-%m-%d %H:%M}' if when else '':16}  tries {m.attempts}  {m.to:32}  "
                f"{m.subject[:60]}" + (f"  [{m.last_error[:80]}]" if m.last_error else "")
            )

    def retry(self, ids: list[int], username: str | None) -> None:
        actor = None
        if username and (actor := User.objects.filter(username=username).first()) is None:
            raise CommandError(f"--as: no user {username!r}")
        try:
            report = retry_messages(ids, actor=actor, source="cli")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(str(report))
        if report.skipped:
            raise CommandError(f"{len(report.skipped)} message(s) could not be queued again")


def _handled(report: DeliveryReport) -> int:
    return report.sent + report.retried + report.failed + report.bounced
