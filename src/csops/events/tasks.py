"""The events' scheduled job (schedules.yaml): the emails due now, each once."""

from django_tasks import task

from csops.events import messages


@task()
def send_event_emails() -> str:
    return str(messages.send_due())


@task()
def flag_unfilled_slots() -> int:
    """DRI slots still open a week ahead, to the CSE manager."""
    from csops.events import actions

    return actions.flag_unfilled_slots()
