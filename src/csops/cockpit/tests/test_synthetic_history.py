"""The demo's CTA history: backdated, partly closed through the cockpit, onboarding milestones reached,
so the CTA and time-to-value reports show real figures; the same for a seed, and only once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import Cta, CtaType, Task
from csops.cockpit.synthetic_history import SOURCE, seed_cta_history
from csops.core.models import AuditEntry
from csops.reports.selectors import REPORTS, parse_filters
from csops.rules.actions import run_rules
from csops.rules.tests.conftest import TODAY, make_account, team  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

# (type, reason, rule): rules without once_per, so their dedupe keys end in a generation (g0).
KINDS = [
    ("Expansion", "Expansion Opportunity", "Large opportunity"),
    ("Lifecycle", "High License Utilization", "High licence utilisation"),
    ("Risk", "Low License Utilization", "Low licence utilisation"),
]


@pytest.fixture
def book(make_account, team):  # noqa: F811  (the fixtures imported above)
    """Onboarding CTAs the rule raises (contracts started in the last 30 days), contracts started
    before the rule's window (whose onboarding is history), and other CTAs raised today."""
    for days in range(2, 30, 2):
        make_account(contract_start=TODAY - dt.timedelta(days=days))
    for days in range(35, 90, 6):
        make_account(contract_start=TODAY - dt.timedelta(days=days))
    run_rules(names=["New customer onboarding"], as_of=TODAY)
    for number in range(48):
        kind, reason, rule = KINDS[number % len(KINDS)]
        cta_type = CtaType.objects.get(name=kind)
        account = make_account()
        create_cta(account, actor=None, type=cta_type, reason=cta_type.reasons.get(name=reason),
                   due_date=TODAY + dt.timedelta(days=7 + number % 8), source="rule", source_ref=rule,
                   dedupe_key=f"rule:{rule}:0:{account.pk}:g0")
    return team


def report(slug: str):
    spec = REPORTS[slug]
    filters, errors = parse_filters({}, spec.filters)
    assert not errors
    return spec.build(filters)


def state() -> list[tuple]:
    """Every CTA's and task's dates and status, keyed by what does not change between runs."""
    ctas = sorted(
        (c.account_id, c.source_ref, c.status.name, c.created_at.date(), c.due_date,
         c.closed_at and c.closed_at.date())
        for c in Cta.objects.select_related("status")
    )
    tasks = sorted(
        (t.cta.account_id, t.cta.source_ref, t.name, t.due_date, t.done_at and t.done_at.date())
        for t in Task.objects.select_related("cta")
    )
    return ctas + tasks


def test_the_reports_show_a_history(book):
    empty = report("ctas").tables[0].rows
    assert all(row[3] == 0 and row[5] == 0 for row in empty)  # raised today: age 0, nothing closed

    backdated, closed = seed_cta_history(seed=1)

    assert backdated > 30 and 10 < closed < backdated
    by_type = report("ctas").tables[0].rows
    ages = [row[3] for row in by_type if row[3] is not None]
    assert ages and all(0 < age <= 90 for age in ages)
    assert sum(row[5] for row in by_type) == closed
    on_time = [row[6] for row in by_type if row[6] is not None]
    assert on_time and all(50 <= share <= 100 for share in on_time)
    assert any(share < 100 for share in on_time)  # some closed late
    assert sum(row[2] for row in by_type) > 0  # some open ones are overdue

    figures = {f.label: f.value for f in report("time-to-value").figures}
    assert 0 < figures["Engaged within 14 days"] < 100
    assert figures["Onboarded within 45 days"] < figures["Engaged within 14 days"]
    cohorts = report("time-to-value").tables[0].rows
    assert len([row for row in cohorts if row[2]]) >= 3  # contracts of the last three months onboarding


def test_dates_hold_together(book):
    seed_cta_history(seed=1)
    now = timezone.now()
    ctas = list(Cta.objects.select_related("status", "account"))
    closed = [c for c in ctas if c.closed_at]
    assert closed and all(c.status.is_closed for c in closed)
    assert all(not c.status.is_closed for c in ctas if not c.closed_at)
    for cta in ctas:
        assert TODAY - dt.timedelta(days=91) <= cta.created_at.date() <= TODAY and cta.created_at <= now
        assert cta.due_date is None or cta.due_date >= cta.created_at.date()
        if cta.closed_at:
            assert cta.created_at <= cta.closed_at <= now
    assert AuditEntry.objects.filter(source=SOURCE, verb="update").count() == len(closed)
    done = list(Task.objects.exclude(done_at=None).select_related("cta__account"))
    assert done
    for task in done:
        assert task.done_at >= task.cta.created_at and task.done_at <= now
        assert task.done_at.date() > task.cta.account.contract_start
        assert task.cta.closed_at is None or task.done_at <= task.cta.closed_at
    late = [c for c in closed if c.due_date and c.closed_at.date() > c.due_date]
    assert 0 < len(late) < len(closed) / 2


def made_and_undone(seed: int) -> list[tuple]:
    """The state a run with `seed` makes, then rolled back."""
    with transaction.atomic():
        point = transaction.savepoint()
        seed_cta_history(seed=seed)
        made = state()
        transaction.savepoint_rollback(point)
    return made


def test_the_same_for_a_seed_and_only_once(book):
    first = made_and_undone(1)
    assert state() != first
    seed_cta_history(seed=1)
    assert state() == first
    assert seed_cta_history(seed=1) == (0, 0)
    assert state() == first


def test_another_seed_another_history(book):
    first = made_and_undone(1)
    seed_cta_history(seed=2)
    assert state() != first
