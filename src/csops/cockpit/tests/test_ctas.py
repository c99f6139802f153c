import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from csops.cockpit.actions import close_cta, complete_task, create_cta, reopen_cta, snooze_cta
from csops.cockpit.models import Cta, CtaReason, CtaStatus, CtaType, Playbook, Task
from csops.core.models import AuditEntry
from csops.customers.models import Account


@pytest.fixture
def risk(config):
    kind = CtaType.objects.get(name="Risk")
    return kind, kind.reasons.get(name="At-Risk"), Playbook.objects.get(name="Account Triage")


@pytest.fixture
def account(seeded):
    return Account.objects.filter(csm__isnull=False, csm__is_pool=False).first()


def test_create_cta_instantiates_the_playbook(account, risk, users):
    kind, reason, playbook = risk
    cta, created = create_cta(
        account, actor=users["admin"], type=kind, reason=reason, playbook=playbook, priority="high"
    )
    assert created and cta.status.name == "New" and cta.owner == account.csm
    assert cta.name == f"{account.name} - At-Risk"
    tasks = list(cta.tasks.all())
    assert [t.name for t in tasks] == [t["name"] for t in playbook.tasks]
    assert tasks[0].due_date == timezone.localdate() + dt.timedelta(days=1)
    assert AuditEntry.objects.filter(verb="create", object_repr=cta.name).exists()


def test_dedupe_key_makes_raising_idempotent(account, risk, users):
    kind, reason, playbook = risk
    first, created = create_cta(
        account, actor=None, type=kind, reason=reason, playbook=playbook, dedupe_key=f"at-risk:{account.pk}"
    )
    again, created_again = create_cta(
        account, actor=None, type=kind, reason=reason, playbook=playbook, dedupe_key=f"at-risk:{account.pk}"
    )
    assert created and not created_again and first == again
    assert Cta.objects.count() == 1 and Task.objects.count() == len(playbook.tasks)


def test_reason_must_belong_to_the_type(account, risk):
    kind, _, _ = risk
    wrong = CtaReason.objects.get(name="Upcoming Renewal")
    with pytest.raises(ValidationError, match="is not a reason of"):
        create_cta(account, actor=None, type=kind, reason=wrong)
    assert not Cta.objects.exists()


def test_close_snooze_reopen_and_tasks(account, risk, users):
    kind, reason, playbook = risk
    cta, _ = create_cta(account, actor=None, type=kind, reason=reason, playbook=playbook)
    with pytest.raises(ValidationError, match="not a closed status"):
        close_cta(cta, actor=users["csm"], status=CtaStatus.objects.get(name="Work in progress"))
    with pytest.raises(ValidationError, match="future date"):
        snooze_cta(cta, actor=users["csm"], until=timezone.localdate(), reason="later")
    with pytest.raises(ValidationError, match="Say why"):
        snooze_cta(cta, actor=users["csm"], until=timezone.localdate() + dt.timedelta(days=3), reason=" ")
    snooze_cta(
        cta, actor=users["csm"], until=timezone.localdate() + dt.timedelta(days=3), reason="Customer away"
    )
    task = cta.tasks.first()
    complete_task(task, actor=users["csm"])
    assert task.done_at is not None
    close_cta(cta, actor=users["csm"], status=CtaStatus.objects.get(name="Closed Success"))
    assert cta.closed_at is not None
    with pytest.raises(ValidationError, match="does not apply"):
        lifecycle_only = CtaStatus.objects.get(name="Closed: Not needed")
        cta.status = lifecycle_only
        cta.full_clean()
    cta.refresh_from_db()
    reopen_cta(cta, actor=users["admin"])
    assert cta.closed_at is None and cta.status.name == "New"
    assert AuditEntry.objects.filter(source="reopen", actor=users["admin"]).exists()


@pytest.mark.django_db(transaction=True)
def test_two_racing_runners_create_one_cta(seeded):
    """Two threads raise the same CTA at once, each in its own connection and transaction."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is meaningful on PostgreSQL (run in CI)")
    account = Account.objects.first()
    kind = CtaType.objects.get(name="Risk")
    reason, playbook = kind.reasons.get(name="At-Risk"), Playbook.objects.get(name="Account Triage")
    barrier, results = threading.Barrier(2), []

    def run():
        from django.db import connections

        try:
            barrier.wait()
            results.append(
                create_cta(
                    account, actor=None, type=kind, reason=reason, playbook=playbook, dedupe_key="race"
                )[1]
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert Cta.objects.filter(dedupe_key="race").count() == 1
    assert Task.objects.count() == len(playbook.tasks)


def test_cockpit_pages_work_a_cta(account, risk, users, client_as):
    kind, reason, playbook = risk
    account.csm = users["csm"]
    account.save()
    today = timezone.localdate()
    overdue, _ = create_cta(account, actor=None, type=kind, reason=reason, playbook=playbook,
                            due_date=today - dt.timedelta(days=2), name="Overdue one")
    create_cta(account, actor=None, type=kind, reason=reason, due_date=today + dt.timedelta(days=5),
               name="Later one")
    csm = client_as("csm")
    piles = {p.name: p for p in csm.get("/cockpit/").context["piles"]}
    assert [c.name for c in piles["overdue"].ctas] == ["Overdue one"]
    assert [c.name for c in piles["upcoming"].ctas] == ["Later one"]
    assert "Overdue one" in client_as("viewer").get(account.get_absolute_url()).content.decode()
    url = f"/cockpit/ctas/{overdue.pk}/work/"
    assert client_as("viewer").post(url, {"verb": "reopen"}).status_code == 403
    task = overdue.tasks.first()
    csm.post(url, {"verb": "complete_task", "task": task.pk})
    task.refresh_from_db()
    assert task.done_at is not None
    response = csm.post(url, {"verb": "snooze", "until": "not a date", "reason": "x"}, follow=True)
    assert b"Give a date" in response.content
    csm.post(url, {"verb": "snooze", "until": str(today + dt.timedelta(days=7)), "reason": "Holidays"})
    snoozed = next(p for p in csm.get("/cockpit/").context["piles"] if p.name == "snoozed")
    assert [c.name for c in snoozed.ctas] == ["Overdue one"]
    wip = CtaStatus.objects.get(name="Work in progress")
    response = csm.post(url, {"verb": "close", "status": wip.pk}, follow=True)
    assert b"not a closed status" in response.content
    csm.post(url, {"verb": "close", "status": CtaStatus.objects.get(name="Closed Success").pk})
    overdue.refresh_from_db()
    assert overdue.closed_at is not None
    page = csm.get(f"/cockpit/ctas/{overdue.pk}/")
    assert page.status_code == 200 and b"Reopen" in page.content


def test_closing_can_mark_the_open_tasks_done(account, risk, users, client_as):
    kind, reason, playbook = risk
    cta, _ = create_cta(account, actor=None, type=kind, reason=reason, playbook=playbook, name="Wrap up")
    first = cta.tasks.order_by("position").first()
    complete_task(first, actor=None)
    done_at = Task.objects.get(pk=first.pk).done_at
    csm = client_as("csm")
    page = csm.get(f"/cockpit/ctas/{cta.pk}/").content.decode()
    open_count = cta.tasks.filter(done_at=None).count()
    assert f"and mark its {open_count} open task" in page
    url = f"/cockpit/ctas/{cta.pk}/work/"
    wip = CtaStatus.objects.get(name="Work in progress")
    csm.post(url, {"verb": "close", "status": wip.pk, "complete_tasks": "on"})  # refused: not closed
    assert cta.tasks.filter(done_at=None).count() == open_count
    csm.post(url, {"verb": "close", "status": CtaStatus.objects.get(name="Closed Success").pk,
                   "complete_tasks": "on"})
    cta.refresh_from_db()
    assert cta.closed_at is not None and not cta.tasks.filter(done_at=None).exists()
    assert Task.objects.get(pk=first.pk).done_at == done_at  # a task done before keeps its date
    completed = AuditEntry.objects.filter(content_type__model="task", verb="update").count()
    assert completed == open_count + 1
