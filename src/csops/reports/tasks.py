"""The reports app's scheduled job (schedules.yaml)."""

from django_tasks import task

from csops.reports.actions import send_due_reports


@task()
def send_reports() -> str:
    """Email each report subscription that is due (weekly or monthly) through the outbox."""
    return f"{send_due_reports()} report(s) queued"
