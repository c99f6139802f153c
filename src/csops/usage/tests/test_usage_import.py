import pytest
from django.core.management import CommandError, call_command

from csops.customers.actions import ImportRejected
from csops.customers.imports import validate
from csops.customers.models import Account
from csops.usage import store
from csops.usage.actions import import_usage

HEADER = "AccountId,Instance,Included,Date,billable_users,licensed_users,unique_active_users\n"


def rows(con) -> list[dict]:
    return con.table("usage_snapshots").order_by(["account_id", "snapshot_date"]).to_pyarrow().to_pylist()


def test_import_usage_upserts_into_the_store(seeded, tmp_path):
    account = Account.objects.first()
    path = tmp_path / "usage.csv"
    path.write_text(
        HEADER + f"{account.external_id},inst-1,yes,2026-11-01,80,100,60\n"
        f"{account.external_id},inst-1,yes,2026-11-08,85,100,70\n"
    )
    assert import_usage(validate("usage", path)) == 2
    path.write_text(HEADER + f"{account.external_id},inst-1,yes,2026-11-08,90,100,75\n")
    import_usage(validate("usage", path))
    stored = rows(store.connect())
    assert [(r["snapshot_date"].isoformat(), r["billable_users"]) for r in stored] == [
        ("2026-11-01", 80),
        ("2026-11-08", 90),
    ]
    assert stored[0]["account_id"] == account.pk and stored[0]["included_in_health"] is True


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("NOPE,inst-1,yes,2026-11-01,80,100,60", "unknown account 'NOPE'"),
        ("{id},inst-1,yes,2026-13-01,80,100,60", "not a date"),
        ("{id},inst-1,yes,2026-11-01,-4,100,60", "must be at least 0"),
        ("{id},inst-1,maybe,2026-11-01,80,100,60", "not yes/no"),
        ("{id},,yes,2026-11-01,80,100,60", "required"),
    ],
)
def test_bad_usage_rows_write_nothing(seeded, tmp_path, line, reason):
    account = Account.objects.first()
    path = tmp_path / "usage.csv"
    path.write_text(
        HEADER
        + f"{account.external_id},inst-1,yes,2026-10-01,1,1,1\n"
        + line.format(id=account.external_id)
        + "\n"
    )
    with pytest.raises(ImportRejected) as caught:
        import_usage(validate("usage", path))
    assert reason in caught.value.errors[0].reason and caught.value.errors[0].line == 3
    assert "usage_snapshots" not in store.connect().list_tables()


def test_duplicate_snapshot_in_file(seeded, tmp_path):
    account = Account.objects.first()
    line = f"{account.external_id},inst-1,yes,2026-11-01,80,100,60\n"
    path = tmp_path / "usage.csv"
    path.write_text(HEADER + line + line)
    with pytest.raises(ImportRejected) as caught:
        import_usage(validate("usage", path))
    assert "duplicate row (first on line 2)" in str(caught.value.errors[0])


def test_usage_cli(seeded, tmp_path, capsys):
    account = Account.objects.first()
    path = tmp_path / "usage.csv"
    path.write_text(
        HEADER + f"{account.external_id},inst-1,yes,2026-11-01,80,100,60\nNOPE,i,yes,2026-11-01,1,1,1\n"
    )
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", "usage", str(path))
    call_command("import", "usage", str(path), "--partial")
    assert "1 snapshots written, 1 rejected" in capsys.readouterr().out
    assert (tmp_path / "usage.csv.errors.csv").exists()
