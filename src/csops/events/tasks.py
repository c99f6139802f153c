"""The events' scheduled job (schedules.yaml): the emails due now, each once."""

from django_tasks import task

from csops.events import messages


@task()
def send_event_emails() -> str:
    return str(messages.send_due())
