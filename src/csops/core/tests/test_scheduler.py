import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from csops.core import scheduler
from csops.core.models import Schedule, ScheduleFiring

UTC = dt.UTC


def test_last_due_is_in_the_business_time_zone(settings):
    settings.CSOPS_ORGANISATION = {**settings.CSOPS_ORGANISATION, "business_time_zone": "America/Los_Angeles"}
    now = dt.datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 05:00 in Los Angeles
    assert scheduler.last_due("0 4 * * *", now) == dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    early = dt.datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 03:00 there: yesterday's run
    assert scheduler.last_due("0 4 * * *", early) == dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    exactly = dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert scheduler.last_due("0 4 * * *", exactly) == exactly


def test_a_due_time_fires_once_even_with_two_schedulers(config):
    from csops.rules.models import Rule

    Rule.objects.update(enabled=False)  # rules fire through the same scheduler; tested in rules
    Schedule.objects.exclude(name="health-daily").update(enabled=False)  # one schedule is enough here
    now = dt.datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    first, second = scheduler.tick(now), scheduler.tick(now)
    assert [f.schedule for f in first] == ["health-daily"] and second == []
    assert ScheduleFiring.objects.count() == 1
    assert scheduler.tick(now + dt.timedelta(days=1))  # the next day fires again
    Schedule.objects.update(enabled=False)
    assert scheduler.tick(now + dt.timedelta(days=2)) == []


def test_worker_runs_the_daily_scoring(transactional_db, seeded, capsys):
    # The task worker closes connections it finds inside a transaction, as the test's own
    # transaction would be on PostgreSQL: this test runs without one.
    from csops.health.models import ScoreRun

    # Only the scoring: other jobs' writes (the handoffs' onboarding CTAs) re-score their accounts.
    Schedule.objects.exclude(name="health-daily").update(enabled=False)
    call_command("worker", "--once")
    assert "fired health-daily" in capsys.readouterr().err
    assert ScoreRun.objects.count() == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("cron", "every day", "Not a cron expression"),
    ("task", "csops.nowhere.task", "No task"),
    ("task", "csops.health.actions.score_accounts", "is not a task"),
])
def test_bad_schedules_are_refused(db, field, value, message):
    schedule = Schedule(name="x", cron="0 4 * * *", task="csops.health.tasks.score")
    setattr(schedule, field, value)
    with pytest.raises(ValidationError, match=message):
        schedule.full_clean()
