"""The core responsibilities tracker's actions and selectors: validation naming the field, the status
history, updates that change nothing, who may do what, the defaults, the demo and the report's order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from csops.core.models import AuditEntry
from csops.governance import responsibilities as tracker
from csops.governance.models import CoreProcess, ProcessStatusChange, Rag
from csops.governance.responsibility_demo import seed_processes


@pytest.fixture
def process(users) -> CoreProcess:
    return tracker.add_process(actor=users["admin"], name="CS KPIs", owner=users["csm"],
                               description="Retention and adoption KPIs.")


def audits(process: CoreProcess):
    return AuditEntry.objects.filter(content_type__model="coreprocess", object_id=str(process.pk))


def errors_of(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


def test_adding_a_process_opens_its_history(users, process):
    assert (process.status, process.owner) == (Rag.GREEN, users["csm"]) and process.status_changed_at
    (first,) = tracker.history(process)
    assert (first.from_status, first.status, first.changed_by) == ("", Rag.GREEN, users["admin"])
    assert audits(process).filter(verb="create").count() == 1


def test_adding_refuses_bad_input_naming_each_field(users, process):
    with pytest.raises(ValidationError) as caught:
        tracker.add_process(actor=users["admin"], name="  ", owner=None, status="amber")
    assert set(errors_of(caught)) == {"name", "owner", "status"}
    with pytest.raises(ValidationError) as caught:
        tracker.add_process(actor=users["admin"], name="cs kpis", owner=users["csm"])
    assert "already a process named" in errors_of(caught)["name"][0]
    with pytest.raises(ValidationError) as caught:
        tracker.add_process(actor=users["admin"], name="Documentation", owner=users["pool"], status=Rag.RED)
    assert set(errors_of(caught)) == {"owner", "reason", "plan"}
    with pytest.raises(ValidationError) as caught:
        tracker.add_process(actor=users["admin"], name="x" * 201, owner=users["csm"])
    assert set(errors_of(caught)) == {"name"}
    assert CoreProcess.objects.count() == 1


def test_only_admins_add_processes(users):
    for role in ("csm", "account_owner", "viewer"):
        with pytest.raises(PermissionDenied):
            tracker.add_process(actor=users[role], name="Documentation", owner=users[role])
    assert not CoreProcess.objects.exists()


def test_each_status_change_is_a_history_row_from_to_by_when(users, process):
    before = process.status_changed_at
    change = tracker.update_status(process, actor=users["csm"], status=Rag.YELLOW,
                                   reason=" Two definitions of net retention. ", plan="Agree one.")
    assert (change.from_status, change.status, change.changed_by) == (Rag.GREEN, Rag.YELLOW, users["csm"])
    assert change.reason == "Two definitions of net retention." and change.at <= timezone.now()
    process.refresh_from_db()
    assert (process.status, process.reason, process.plan) == (Rag.YELLOW, change.reason, change.plan)
    assert process.status_changed_at > before
    tracker.update_status(process, actor=users["admin"], status=Rag.RED, reason="Leaders trust neither.",
                          plan="One definition by the 30th.")
    assert [(c.from_status, c.status) for c in tracker.history(process)] == [
        (Rag.YELLOW, Rag.RED), (Rag.GREEN, Rag.YELLOW), ("", Rag.GREEN)
    ]
    assert audits(process).filter(verb="update").count() == 2


@pytest.mark.parametrize("status", [Rag.RED, Rag.YELLOW])
def test_a_status_other_than_green_needs_a_reason_and_a_plan(users, process, status):
    with pytest.raises(ValidationError) as caught:
        tracker.update_status(process, actor=users["csm"], status=status, reason=" ", plan="")
    assert set(errors_of(caught)) == {"reason", "plan"}
    assert "why" in errors_of(caught)["reason"][0].lower()
    with pytest.raises(ValidationError) as caught:
        tracker.update_status(process, actor=users["csm"], status=status, reason="Late.")
    assert set(errors_of(caught)) == {"plan"}
    with pytest.raises(ValidationError) as caught:
        tracker.update_status(process, actor=users["csm"], status="purple", reason="r", plan="p")
    assert set(errors_of(caught)) == {"status"}
    assert ProcessStatusChange.objects.filter(process=process).count() == 1


def test_an_update_that_changes_nothing_writes_nothing(users, process):
    tracker.update_status(process, actor=users["csm"], status=Rag.RED, reason="r", plan="p")
    process.refresh_from_db()
    rows, audits, changed_at = process.history.count(), AuditEntry.objects.count(), process.status_changed_at
    assert tracker.update_status(process, actor=users["csm"], status=Rag.RED, reason=" r ", plan="p") is None
    process.refresh_from_db()
    assert (process.history.count(), AuditEntry.objects.count()) == (rows, audits)
    assert process.status_changed_at == changed_at


def test_a_new_plan_under_the_same_status_is_history_but_keeps_the_days_in_status(users, process):
    tracker.update_status(process, actor=users["csm"], status=Rag.RED, reason="r", plan="p")
    process.refresh_from_db()
    changed_at = process.status_changed_at
    change = tracker.update_status(process, actor=users["csm"], status=Rag.RED, reason="r", plan="Better.")
    assert (change.from_status, change.status, change.plan) == (Rag.RED, Rag.RED, "Better.")
    process.refresh_from_db()
    assert process.status_changed_at == changed_at and process.plan == "Better."


def test_back_to_green_clears_the_reason_and_plan_unless_given(users, process):
    tracker.update_status(process, actor=users["csm"], status=Rag.RED, reason="r", plan="p")
    tracker.update_status(process, actor=users["csm"], status=Rag.GREEN)
    process.refresh_from_db()
    assert (process.status, process.reason, process.plan) == (Rag.GREEN, "", "")


def test_only_the_owner_and_admins_update_the_status(users, process):
    for role in ("account_owner", "viewer"):
        with pytest.raises(PermissionDenied, match="only its owner"):
            tracker.update_status(process, actor=users[role], status=Rag.GREEN, reason="fine")
    tracker.change_owner(process, actor=users["admin"], owner=users["viewer"])
    with pytest.raises(PermissionDenied):  # the previous owner no longer may
        tracker.update_status(process, actor=users["csm"], status=Rag.RED, reason="r", plan="p")
    assert tracker.update_status(process, actor=users["viewer"], status=Rag.RED, reason="r", plan="p")
    users["viewer"].is_active = False
    users["viewer"].save()
    with pytest.raises(PermissionDenied):
        tracker.update_status(process, actor=users["viewer"], status=Rag.GREEN)


def test_changing_the_owner(users, process):
    with pytest.raises(PermissionDenied):
        tracker.change_owner(process, actor=users["csm"], owner=users["viewer"])
    for owner in (users["pool"], None):
        with pytest.raises(ValidationError) as caught:
            tracker.change_owner(process, actor=users["admin"], owner=owner)
        assert set(errors_of(caught)) == {"owner"}
    tracker.change_owner(process, actor=users["admin"], owner=users["viewer"])
    audits = AuditEntry.objects.count()
    tracker.change_owner(process, actor=users["admin"], owner=users["viewer"])  # no change: no audit row
    process.refresh_from_db()
    assert process.owner == users["viewer"] and AuditEntry.objects.count() == audits
    assert process.history.count() == 1  # an owner change is not a status change


def test_editing_the_description_and_name(users, process):
    tracker.edit_process(process, actor=users["csm"], description="  New words. ")
    process.refresh_from_db()
    assert process.description == "New words."
    tracker.edit_process(process, actor=users["csm"], description="Same name.", name="CS KPIs")  # unchanged
    with pytest.raises(PermissionDenied, match="rename"):
        tracker.edit_process(process, actor=users["csm"], description="x", name="KPIs")
    with pytest.raises(PermissionDenied):
        tracker.edit_process(process, actor=users["viewer"], description="x")
    tracker.add_process(actor=users["admin"], name="Documentation", owner=users["csm"])
    with pytest.raises(ValidationError) as caught:
        tracker.edit_process(process, actor=users["admin"], description="x", name="documentation")
    assert set(errors_of(caught)) == {"name"}
    tracker.edit_process(process, actor=users["admin"], description="x", name="Customer Success KPIs")
    process.refresh_from_db()
    assert process.name == "Customer Success KPIs"


def test_the_defaults_are_added_once(users):
    added = tracker.add_default_processes(actor=users["admin"], owner=users["admin"])
    assert len(added) == len(tracker.DEFAULT_PROCESSES) and {p.status for p in added} == {Rag.GREEN}
    assert {"CS KPIs", "Policy management", "Documentation"} <= {p.name for p in added}
    assert tracker.add_default_processes(actor=users["admin"], owner=users["admin"]) == []


def test_the_demo_seeds_a_mix_of_statuses_with_history(users):
    assert seed_processes() == len(tracker.DEFAULT_PROCESSES)
    assert seed_processes() == 0
    assert tracker.counts() == {Rag.RED: 2, Rag.YELLOW: 3, Rag.GREEN: len(tracker.DEFAULT_PROCESSES) - 5}
    kpis = CoreProcess.objects.get(name="CS KPIs")
    assert [(c.from_status, c.status) for c in tracker.history(kpis)] == [
        (Rag.YELLOW, Rag.RED), (Rag.GREEN, Rag.YELLOW), ("", Rag.GREEN)
    ]
    assert tracker.days_in_status(kpis.status_changed_at) == 12
    renewals = CoreProcess.objects.get(name="Renewal operations")
    assert tracker.days_in_status(renewals.status_changed_at) == 33  # a new plan is not a new status
    assert tracker.days_in_status(CoreProcess.objects.get(name="Policy management").status_changed_at) == 120
    assert CoreProcess.objects.values("owner").distinct().count() == 4


def test_the_report_lists_reds_then_yellows_longest_first_then_greens_by_name(users):
    seed_processes()
    report = tracker.status_report()
    assert [p.name for p in report.red] == ["CS KPIs", "Product analytics and renewal strategies"]
    yellows = ["Renewal operations", "Documentation", "Request intake and triage"]
    assert [p.name for p in report.yellow] == yellows
    assert [p.days for p in report.yellow] == [33, 9, 6]
    assert [p.name for p in report.green] == sorted((p.name for p in report.green), key=str.lower)
    assert report.total == len(tracker.DEFAULT_PROCESSES) and report.as_of == tracker.business_today()


def test_days_in_status_count_calendar_days_in_the_business_time_zone():
    at = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    assert tracker.days_in_status(at, today=dt.date(2026, 11, 23)) == 3
    assert tracker.days_in_status(None) is None
