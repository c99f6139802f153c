import datetime as dt
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from csops.customers.models import Account, Contact
from csops.customers.synthetic import generate

TODAY = dt.date(2026, 11, 23)


def test_generation_is_deterministic():
    first, second = generate(200, seed=5, today=TODAY), generate(200, seed=5, today=TODAY)
    assert first.accounts == second.accounts and first.contacts == second.contacts
    assert generate(200, seed=6, today=TODAY).accounts != first.accounts


def test_generated_base_is_realistic():
    data = generate(3000, seed=1, today=TODAY)
    arr = sorted(a["arr"] for a in data.accounts)
    assert arr[len(arr) // 2] < arr[-1] / 20  # long right tail (log-normal)
    geos = Counter(a["geo"] for a in data.accounts)
    assert geos["AMER"] > geos["EMEA"] > geos["APJ"] > geos["LATAM"]
    scale = [a for a in data.accounts if 30_000 <= a["arr"] < 150_000 and a["geo"] != "PubSec"]
    assert all(a["csm"] == "tam-scale" and a["cse"] for a in scale)
    assert all(a["renewal_date"] >= TODAY - dt.timedelta(days=20) for a in data.accounts)
    assert {c["persona"] for c in data.contacts} >= {"GitLab Admin", "Sold-to", "Dev Lead"}
    assert any(a["parent_external_id"] for a in data.accounts)
    assert any(p.is_pool for p in data.people)


def test_seed_command(config, capsys):
    call_command("seed", "--accounts", "30", "--seed", "2")
    assert Account.objects.count() == 30 and Contact.objects.count() > 30
    assert "Seeded 30 accounts" in capsys.readouterr().out
    call_command("seed", "--accounts", "30", "--seed", "2")  # idempotent: same ids, no duplicates
    assert Account.objects.count() == 30
    with pytest.raises(CommandError, match="--accounts"):
        call_command("seed", "--accounts", "0")


def test_seed_needs_configuration(db):
    with pytest.raises(CommandError, match="no segments configured"):
        call_command("seed", "--accounts", "5")


def test_demo_prepares_everything(db, capsys):
    call_command("demo", "--accounts", "25", "--no-serve")
    out = capsys.readouterr().out
    assert "admin" in out and "password" in out and Account.objects.count() == 25
    # The core responsibilities tracker has its default processes, some red or yellow, with history.
    from csops.governance.models import CoreProcess, ProcessStatusChange

    assert set(CoreProcess.objects.values_list("status", flat=True)) == {"red", "yellow", "green"}
    assert ProcessStatusChange.objects.filter(from_status="yellow", status="red").exists()
    # Configuration change requests: the leads' (applied at once), and the reviewer's four.
    from csops.governance.models import ChangeRequest

    assert sorted(ChangeRequest.objects.values_list("status", flat=True)) == [
        "applied", "applied", "applied", "changes_requested", "open",
    ]
    from csops.events.models import Event, LabSpace

    assert Event.objects.count() == 8 and LabSpace.objects.exists()
    from csops.renewals.models import ArrSnapshot

    assert ArrSnapshot.objects.values("month").distinct().count() == 13


def test_chunks_give_the_same_rows_as_one_pass():
    from csops.customers.synthetic import generate_chunks

    whole = generate(120, seed=9, today=TODAY)
    chunks = list(generate_chunks(120, seed=9, today=TODAY, chunk_size=50))
    assert [len(c.accounts) for c in chunks] == [50, 50, 20]
    assert [a for c in chunks for a in c.accounts] == whole.accounts
    assert [t for c in chunks for t in c.tickets] == whole.tickets
    assert chunks[0].people and not chunks[1].people
