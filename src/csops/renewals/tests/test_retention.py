"""Retention maths against hand-computed cases: expansion, contraction, churn, new logos excluded,
children counted with their parent; the snapshot job; the renewal rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from csops.customers.models import Opportunity, Segment
from csops.renewals.actions import take_snapshot
from csops.renewals.models import ArrSnapshot
from csops.renewals.retention import renewal_rate, retention

START, END = dt.date(2025, 11, 1), dt.date(2026, 11, 1)


def snap(account, month, arr, parent=None, segment="Growth"):
    ArrSnapshot.objects.create(
        account=account, month=month, arr=Decimal(arr), parent_id_then=parent, segment=segment
    )


@pytest.fixture
def book(make_account):
    """A 100→120 (expansion), B 200→150 (contraction), C 50→gone (churn), D new (0→80, excluded),
    P 100 with child Q 40 → P 100, Q 0 (the customer contracts by 40, it does not churn)."""
    a, b, c, d, p, q = (make_account() for _ in range(6))
    snap(a, START, 100), snap(a, END, 120)
    snap(b, START, 200), snap(b, END, 150)
    snap(c, START, 50, segment="Scale")
    snap(d, END, 80)
    snap(p, START, 100, segment="Scale"), snap(p, END, 100, segment="Scale")
    snap(q, START, 40, parent=p.pk, segment="Growth"), snap(q, END, 0, parent=p.pk)
    return {"a": a, "b": b, "c": c, "d": d, "p": p, "q": q}


def test_hand_computed_retention(book):
    [total] = retention(START, END)
    assert total.customers == 4 and total.starting == 490 and total.ending == 370
    assert (total.expansion, total.contraction, total.churn, total.churned) == (20, 90, 50, 1)
    assert total.net_retention == pytest.approx(370 / 490)
    assert total.gross_retention == pytest.approx(350 / 490)
    assert total.logo_churn == pytest.approx(1 / 4)
    kinds = {m.customer_id: m.kind for m in total.movements}
    assert kinds == {
        book["a"].pk: "expansion",
        book["b"].pk: "contraction",
        book["c"].pk: "churn",
        book["p"].pk: "contraction",
    }  # D, a new logo, is not in the cohort


def test_by_segment_each_customer_as_its_own_row_was_at_the_start(book):
    groups = {r.group: r for r in retention(START, END, group_by="segment")}
    assert set(groups) == {"Growth", "Scale"}
    assert groups["Growth"].starting == 300 and groups["Growth"].ending == 270  # A, B
    assert groups["Scale"].starting == 190 and groups["Scale"].ending == 100  # C, and P with its child
    assert sum(g.starting for g in groups.values()) == retention(START, END)[0].starting


def test_the_snapshot_takes_every_account_with_its_top_level_parent(make_account):
    top = make_account(arr=Decimal("500"))
    middle = make_account(parent=top, arr=Decimal("30"))
    leaf = make_account(parent=middle, arr=Decimal("20"), segment=Segment.objects.get(name="Scale"))
    assert take_snapshot(dt.date(2026, 11, 17)) == 3
    rows = {r.account_id: r for r in ArrSnapshot.objects.filter(month=dt.date(2026, 11, 1))}
    assert rows[top.pk].parent_id_then is None and rows[middle.pk].parent_id_then == top.pk
    assert rows[leaf.pk].parent_id_then == top.pk and rows[leaf.pk].segment == "Scale"
    assert rows[leaf.pk].csm == leaf.csm.username
    type(leaf).objects.filter(pk=leaf.pk).update(arr=Decimal("25"))
    assert take_snapshot(dt.date(2026, 11, 1)) == 3  # again: replaced, not doubled
    assert ArrSnapshot.objects.get(account=leaf, month=dt.date(2026, 11, 1)).arr == 25


def test_renewal_rate_is_won_basis_over_basis_of_closed_renewals(make_account):
    account = make_account()

    def renewal(n, basis, stage, close=dt.date(2026, 3, 1)):
        Opportunity.objects.create(
            external_id=f"R{n}",
            account=account,
            name=f"R{n}",
            type="renewal",
            arr_basis=Decimal(basis),
            close_date=close,
            stage=stage,
        )

    renewal(1, 300, "Closed Won")
    renewal(2, 100, "Closed Lost")
    renewal(3, 999, "Negotiating")  # open: not in the rate
    renewal(4, 999, "Closed Won", close=dt.date(2027, 3, 1))  # outside the period
    assert renewal_rate(dt.date(2026, 1, 1), dt.date(2026, 12, 31)) == pytest.approx(0.75)
    assert renewal_rate(dt.date(2020, 1, 1), dt.date(2020, 12, 31)) is None


def test_the_snapshot_command_names_a_bad_month(make_account, capsys):
    from django.core.management import CommandError, call_command

    make_account()
    call_command("renewals", "snapshot", "--month", "2026-10")
    assert "ARR snapshot of 2026-10: 1 accounts" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--month: '2026-13' is not a month"):
        call_command("renewals", "snapshot", "--month", "2026-13")


def test_the_demo_history_has_every_kind_of_movement(seeded):
    from csops.renewals.synthetic import seed_arr_history

    assert seed_arr_history() > 0 and seed_arr_history() == 0
    latest = ArrSnapshot.objects.order_by("-month").values_list("month", flat=True).first()
    year_before = dt.date(latest.year - 1, latest.month, 1)
    [total] = retention(year_before, latest)
    assert total.churned >= 1 and total.contraction > 0 and total.expansion > 0
    assert total.ending == total.starting - total.churn - total.contraction + total.expansion
    take_snapshot(latest)  # the month's scheduled snapshot agrees: the churned have no ARR now
    assert retention(year_before, latest)[0].churned == total.churned


def test_the_monthly_snapshot_is_scheduled(make_account):
    from csops.core.models import Schedule
    from csops.renewals.tasks import snapshot_arr

    assert Schedule.objects.get(name="arr-snapshot").task == "csops.renewals.tasks.snapshot_arr"
    make_account()
    assert snapshot_arr.call() == "1 accounts"
    assert ArrSnapshot.objects.filter(month=timezone.localdate().replace(day=1)).count() == 1


def test_by_cohort_the_customers_contract_start_year(book):
    type(book["a"]).objects.filter(pk__in=[book["a"].pk, book["c"].pk]).update(
        contract_start=dt.date(2023, 5, 1)
    )
    type(book["a"]).objects.filter(pk=book["b"].pk).update(contract_start=dt.date(2024, 2, 1))
    # P's cohort is its own contract start: the child's (Q's) does not count
    type(book["a"]).objects.filter(pk=book["p"].pk).update(contract_start=None)
    type(book["a"]).objects.filter(pk=book["q"].pk).update(contract_start=dt.date(2020, 1, 1))
    groups = {r.group: r for r in retention(START, END, group_by="cohort")}
    assert set(groups) == {"2023", "2024", ""}  # P has no contract start
    assert (groups["2023"].starting, groups["2023"].ending, groups["2023"].churned) == (150, 120, 1)
    assert groups["2024"].contraction == 50


def test_on_time_renewal_rate(make_account):
    from csops.renewals.retention import on_time

    account = make_account()

    def renewal(n, due, close, stage):
        Opportunity.objects.create(
            external_id=f"OT-{n}",
            account=account,
            name=f"R{n}",
            type="renewal",
            arr_basis=Decimal(100),
            close_date=close,
            stage=stage,
            renewal_due=due,
        )

    renewal(1, dt.date(2026, 3, 31), dt.date(2026, 3, 20), "Closed Won")  # on time
    renewal(2, dt.date(2026, 4, 30), dt.date(2026, 4, 30), "Closed Won")  # on the day: on time
    renewal(3, dt.date(2026, 5, 31), dt.date(2026, 6, 15), "Closed Won")  # late
    renewal(4, dt.date(2026, 6, 30), dt.date(2026, 6, 1), "Closed Lost")  # lost
    renewal(5, dt.date(2026, 8, 31), dt.date(2026, 9, 10), "Negotiating")  # still open, overdue
    renewal(6, dt.date(2027, 1, 31), dt.date(2027, 1, 20), "Closed Won")  # due after the period
    renewal(7, None, dt.date(2026, 7, 1), "Closed Won")  # no due date: left out, counted apart
    found = on_time(dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    assert (found.due, found.on_time, found.undated) == (5, 2, 1)
    assert found.rate == pytest.approx(2 / 5)
