"""What the worker does on every pass for programs: due journey steps, then due emails."""

from csops.programs import outbox, runner


def run_due_steps() -> str:
    report = runner.advance()
    return f"programs: {report}" if report.done else ""


def deliver_due() -> str:
    report = outbox.deliver(limit=2000)
    busy = report.sent or report.retried or report.failed or report.bounced or report.unknown
    return f"outbox: {report}" if busy else ""
