"""`csops import arr_history FILE`: monthly ARR rows validated whole, written all or nothing, a
month imported again replaced; what a row leaves out comes from the account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from csops.renewals.models import ArrSnapshot
from csops.renewals.retention import retention


def write(tmp_path, text: str):
    path = tmp_path / "arr.csv"
    path.write_text(text)
    return path


def test_import_then_retention(make_account, tmp_path):
    top, child = make_account(external_id="ACC-1"), make_account(external_id="ACC-2")
    path = write(
        tmp_path,
        "Account ID,Month,ARR,Parent ID,Segment\n"
        "ACC-1,2025-11,100,,Growth\n"
        "ACC-2,2025-11-15,40,ACC-1,Growth\n"
        "ACC-1,2026-11-01,130,,Scale\n"
        "ACC-2,2026-11,0,ACC-1,\n",
    )
    call_command("import", "arr_history", str(path))
    rows = {(r.account_id, r.month): r for r in ArrSnapshot.objects.all()}
    assert len(rows) == 4
    assert rows[(child.pk, dt.date(2025, 11, 1))].parent_id_then == top.pk
    assert rows[(top.pk, dt.date(2026, 11, 1))].segment == "Scale"
    assert rows[(child.pk, dt.date(2026, 11, 1))].segment == "Growth"  # left out: the account's own
    assert rows[(top.pk, dt.date(2025, 11, 1))].csm == top.csm.username
    [total] = retention(dt.date(2025, 11, 1), dt.date(2026, 11, 1))
    assert (total.customers, total.starting, total.ending, total.expansion) == (1, 140, 130, 0)
    assert total.contraction == 10  # one customer: 140 → 130
    path = write(tmp_path, "account,month,arr\nACC-1,2026-11,150\n")
    call_command("import", "arr_history", str(path))  # the month again: replaced, not doubled
    assert ArrSnapshot.objects.filter(account=top, month=dt.date(2026, 11, 1)).get().arr == Decimal(150)
    assert ArrSnapshot.objects.count() == 4


def test_bad_rows_are_named_and_nothing_is_written(make_account, tmp_path, capsys):
    make_account(external_id="ACC-1")
    path = write(
        tmp_path,
        "account,month,arr,parent\n"
        "ACC-1,2026-11,100,\n"
        "ACC-9,2026-11,100,\n"
        "ACC-1,November,100,\n"
        "ACC-1,2026-10,-5,\n"
        "ACC-1,2026-11,120,\n"
        "ACC-1,2026-09,100,NOPE\n",
    )
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", "arr_history", str(path))
    errors = capsys.readouterr().err
    assert "line 3, column account" in errors
    assert "line 4, column month: not a month" in errors
    assert "line 5, column arr" in errors
    assert "line 6" in errors and "duplicate" in errors
    assert "line 7, column parent: no account with CRM id 'NOPE'" in errors
    assert not ArrSnapshot.objects.exists()
    with pytest.raises(CommandError, match=r"missing|required"):
        call_command("import", "arr_history", str(write(tmp_path, "account,arr\nACC-1,5\n")))


def test_renewal_fields_come_with_the_opportunities(make_account, team, tmp_path):
    make_account(external_id="ACC-1")
    path = write(
        tmp_path,
        "Id,AccountId,Name,Type,CloseDate,StageName,Contract End Date,Renewal DRI,"
        "Next Step,Next Step Date\n"
        "OPP-1,ACC-1,Renewal 2027,renewal,2027-01-20,Proposal,2027-01-31,csm1,"
        "Send the quote,2026-12-10\n",
    )
    call_command("import", "opportunities", str(path))
    from csops.customers.models import Opportunity

    renewal = Opportunity.objects.get(external_id="OPP-1")
    assert (renewal.renewal_due, renewal.renewal_dri, renewal.next_step, renewal.next_step_date) == (
        dt.date(2027, 1, 31),
        team["csm"],
        "Send the quote",
        dt.date(2026, 12, 10),
    )


def test_renewal_fields_through_the_api(make_account, team, users):
    from django.test import Client

    from csops.core.actions import create_token
    from csops.customers.models import Opportunity

    account = make_account(external_id="ACC-1")
    renewal = Opportunity.objects.create(
        external_id="OPP-1",
        account=account,
        name="R",
        type="renewal",
        close_date=dt.date(2027, 1, 20),
        stage="Proposal",
    )
    _, secret = create_token(users["admin"], actor=None)
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    url = f"/api/v1/opportunities/{renewal.pk}"
    ok = client.patch(
        url,
        {"renewal_dri": "csm1", "next_step": "Quote", "next_step_date": "2026-12-10"},
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.content
    assert (ok.json()["renewal_dri"], ok.json()["next_step_date"]) == ("csm1", "2026-12-10")
    bad = client.patch(url, {"renewal_dri": "nobody"}, content_type="application/json")
    assert bad.status_code in (400, 422) and "renewal_dri" in bad.content.decode()
    refused = client.patch(
        url, {"next_step": "", "next_step_date": "2026-12-11"}, content_type="application/json"
    )
    assert refused.status_code in (400, 422) and "next_step" in refused.content.decode()
    renewal.refresh_from_db()
    assert (renewal.next_step, renewal.next_step_date) == ("Quote", dt.date(2026, 12, 10))
