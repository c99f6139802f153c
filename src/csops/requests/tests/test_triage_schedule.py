"""The triage policies run on a schedule (working days at 07:00) and from the command line."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.utils.module_loading import import_string

from csops.core.models import Schedule
from csops.requests.models import RequestComment, State

from .test_triage_policies import entered


def test_the_triage_policies_are_scheduled_and_run_from_the_command(config, at_state):
    schedule = Schedule.objects.get(name="triage-policies")
    assert (schedule.cron, schedule.enabled) == ("0 7 * * 1-5", True)
    task = import_string(schedule.task)
    waiting = entered(at_state(State.NEED_MORE_INFO), 8)
    report = task.call()
    assert (
        report.startswith("Triage report for ") and "Nudge Need_More_Info after 7 days: 1 matched" in report
    )
    assert RequestComment.objects.filter(request=waiting).count() == 1
    out = StringIO()
    call_command("requests", "triage", stdout=out)
    assert "1 matched, 0 commented" in out.getvalue()  # once a day: the schedule commented already
