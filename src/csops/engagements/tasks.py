"""The engagements' scheduled jobs (schedules.yaml)."""

from django_tasks import task

from csops.engagements.actions import convert_requests
from csops.engagements.escalations import remind_due


@task()
def convert_requests_task() -> str:
    return str(convert_requests())


@task()
def remind_escalations() -> str:
    return f"{remind_due()} escalation reminder(s) queued"
