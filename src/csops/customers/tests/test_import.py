import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from csops.core.models import AuditEntry
from csops.customers.actions import ImportRejected, import_records
from csops.customers.imports import ImportFileError, validate
from csops.customers.models import Account, Contact, ImportRun, Opportunity, SupportTicket

HEADER = "Id,Name,ARR,Segment,Geo,Contract Start,Renewal Date,CSM,Employees\n"
GOOD = [
    "A-1,Alpha Inc,40000,,AMER,2025-01-15,2027-01-15,csm-user,250",
    "A-2,Beta Ltd,\"$1,200,000\",,EMEA,2024-06-01,2026-12-01,TAM Scale,5000",
    "A-3,Gamma GmbH,900,Digital,APJ,,,,",
]


def write(tmp_path: Path, text: str, name: str = "accounts.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(path: Path, kind: str = "accounts", **options):
    return import_records(validate(kind, path), actor=None, file_name=path.name, **options)


def test_import_creates_derives_and_resolves(users, tmp_path):
    result = run(write(tmp_path, HEADER + "\n".join(GOOD) + "\n"))
    assert (result.created, result.updated, result.failed) == (3, 0, 0)
    alpha, beta, gamma = Account.objects.order_by("external_id")
    assert alpha.segment.name == "Scale" and alpha.csm == users["csm"]
    assert alpha.sales_segment == "mid_market"
    assert beta.arr == Decimal("1200000.00") and beta.segment.name == "Strategic"
    assert beta.csm == users["pool"] and beta.sales_segment == "large"
    assert gamma.segment.name == "Digital" and gamma.renewal_date is None
    assert AuditEntry.objects.filter(source="import", verb="create").count() == 3 + 1  # rows + run


def test_reimport_upserts_by_external_id(users, tmp_path):
    run(write(tmp_path, HEADER + "\n".join(GOOD) + "\n"))
    changed = GOOD[0].replace("40000", "45000")
    result = run(write(tmp_path, HEADER + "\n".join([changed, *GOOD[1:]]) + "\n"))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    assert Account.objects.get(external_id="A-1").arr == Decimal("45000.00")
    entry = AuditEntry.objects.get(verb="update", object_repr="Alpha Inc")
    assert entry.changes == {"arr": ["40000.00", "45000.00"]}


@pytest.mark.parametrize(("row", "column", "reason"), [
    (",No Id Corp,1000,,AMER,,,,", "Id", "required"),
    ("B-1,Bad Number,12k,,AMER,,,,", "ARR", "not a number: '12k'"),
    ("B-1,Bad Date,1000,,AMER,2025-13-40,,,", "Contract Start", "not a date"),
    ("B-1,Bad Segment,1000,Enterprise,AMER,,,,", "Segment", "unknown segment 'Enterprise'"),
    ("B-1,Bad Geo,1000,,Mars,,,,", "Geo", "unknown geo 'Mars'"),
    ("B-1,Bad User,1000,,AMER,,,nobody@nowhere,", "CSM", "unknown user"),
    ("B-1,Negative,-5,,AMER,,,,", "ARR", "must be at least 0"),
    ("B-1,Half person,1000,,AMER,,,,12.5", "Employees", "not a whole number"),
    ("B-1,Backwards,1000,,AMER,2026-01-01,2025-01-01,,", "Renewal Date", "before the contract start"),
])
def test_each_bad_row_is_reported_with_line_and_column_and_nothing_is_written(
        users, tmp_path, row, column, reason):
    path = write(tmp_path, HEADER + GOOD[0] + "\n" + row + "\n")
    with pytest.raises(ImportRejected) as caught:
        run(path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (3, column)
    assert reason in error.reason
    assert Account.objects.count() == 0 and ImportRun.objects.count() == 0


def test_duplicate_external_id_in_file(users, tmp_path):
    path = write(tmp_path, HEADER + GOOD[0] + "\n" + GOOD[1] + "\n" + GOOD[0] + "\n")
    with pytest.raises(ImportRejected) as caught:
        run(path)
    assert str(caught.value.errors[0]) == "line 4, column Id: duplicate id 'A-1' (first on line 2)"
    assert Account.objects.count() == 0


def test_wrong_encoding_names_the_line(users, tmp_path):
    path = write(tmp_path, HEADER + GOOD[0] + "\nA-9,Caf\u00e9 S\u00e3o,1000,,AMER,,,,\n",
                 encoding="latin-1")
    with pytest.raises(ImportFileError, match=r"line 3: not UTF-8 text \(byte 0xe9\)"):
        validate("accounts", path)


@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty"),
    ("Name,ARR\nAlpha,10\n", "missing required column 'external_id'"),
    ("Id,Name,ARR,AnnualRevenue\nA,B,1,2\n", "both map to 'arr'"),
])
def test_unreadable_files(users, tmp_path, text, message):
    with pytest.raises(ImportFileError, match=message):
        validate("accounts", write(tmp_path, text))


def test_row_with_too_many_cells(users, tmp_path):
    path = write(tmp_path, HEADER + GOOD[0] + ",extra\n")
    with pytest.raises(ImportRejected, match="1 error"):
        run(path)


def test_partial_writes_valid_rows_and_an_error_file(users, tmp_path):
    bad = "B-1,Bad Number,12k,,AMER,,,,"
    path = write(tmp_path, HEADER + "\n".join([GOOD[0], bad, GOOD[2]]) + "\n")
    error_path = tmp_path / "errors.csv"
    result = run(path, partial=True, error_path=error_path)
    assert (result.created, result.failed) == (2, 1)
    assert set(Account.objects.values_list("external_id", flat=True)) == {"A-1", "A-3"}
    rows = list(csv.DictReader(error_path.open()))
    assert len(rows) == 1 and rows[0]["line"] == "3" and "ARR: not a number" in rows[0]["errors"]
    assert rows[0]["Name"] == "Bad Number"


def test_salesforce_columns_and_configured_mapping(users, tmp_path):
    text = ("Id,Name,AnnualRevenue,NumberOfEmployees,ParentId,Customer_Success_Manager__c,Geo\n"
            "001P,Parent Co,600000,3000,,csm-user,AMER\n"
            "001C,Child Co,50000,50,001P,,AMER\n")
    run(write(tmp_path, text))
    child = Account.objects.get(external_id="001C")
    assert child.parent.external_id == "001P" and child.arr == Decimal("50000.00")
    assert Account.objects.get(external_id="001P").csm == users["csm"]


def test_unknown_parent(users, tmp_path):
    text = "Id,Name,ParentId\n001C,Child Co,001MISSING\n"
    with pytest.raises(ImportRejected, match="1 error") as caught:
        run(write(tmp_path, text))
    assert "unknown parent account '001MISSING'" in str(caught.value.errors[0])


def test_slack_channel_rule(users, tmp_path):
    text = "Id,Name,Slack Channel\nS1,Acme Corp,#a_acme-corp-internal\nS2,Beta,#a_wrong-internal\n"
    with pytest.raises(ImportRejected) as caught:
        run(write(tmp_path, text))
    [error] = caught.value.errors
    assert error.line == 3 and "#a_beta-internal" in error.reason


def test_custom_fields(users, tmp_path):
    text = "Id,Name,Primary use case\nU1,Use Co,CI\nU2,Bad Co,Telepathy\n"
    with pytest.raises(ImportRejected) as caught:
        run(write(tmp_path, text))
    assert "unknown value 'Telepathy'" in caught.value.errors[0].reason
    run(write(tmp_path, "Id,Name,Primary use case\nU1,Use Co,ci\n"))
    assert Account.objects.get(external_id="U1").custom_fields == {"primary_use_case": "CI"}


def test_parquet_import(users, tmp_path):
    table = pa.table({"Id": ["P1", "P2"], "Name": ["Parq One", "Parq Two"],
                      "ARR": [1000.5, None], "Renewal Date": ["2027-01-01", None]})
    path = tmp_path / "accounts.parquet"
    pq.write_table(table, path)
    assert run(path).created == 2
    assert Account.objects.get(external_id="P1").arr == Decimal("1000.50")
    bad = pa.table({"Id": ["P3"], "Name": ["Bad"], "ARR": ["many"]})
    pq.write_table(bad, path)
    with pytest.raises(ImportRejected) as caught:
        run(path)
    assert str(caught.value.errors[0]) == "line 2, column ARR: not a number: 'many'"


def test_contacts_opportunities_tickets(seeded, tmp_path):
    account = Account.objects.first()
    contacts = (f"Id,AccountId,FirstName,LastName,Email,Persona,HasOptedOutOfEmail\n"
                f"C1,{account.external_id},Ada,Lovelace,ada@example.com,Dev Lead,yes\n")
    run(write(tmp_path, contacts, "c.csv"), "contacts")
    contact = Contact.objects.get(external_id="C1")
    assert contact.persona.name == "Dev Lead" and contact.email_opt_out
    opps = (f"Id,AccountId,Name,Type,CloseDate,StageName,ARR_Basis__c,Risk Reason\n"
            f"O1,{account.external_id},Renewal,Renewal,2027-02-01,Proposal,1000,Loss of Budget\n")
    run(write(tmp_path, opps, "o.csv"), "opportunities")
    assert Opportunity.objects.get(external_id="O1").risk_reason.name == "Loss of Budget"
    tickets = (f"Id,AccountId,Subject,Severity,CreatedDate,ClosedDate\n"
               f"TK1,{account.external_id},Help,S1,2026-11-01T10:00:00Z,2026-10-01T10:00:00Z\n")
    with pytest.raises(ImportRejected) as caught:
        run(write(tmp_path, tickets, "t.csv"), "tickets")
    assert "cannot close before it opens" in caught.value.errors[0].reason
    assert not SupportTicket.objects.filter(external_id="TK1").exists()


@pytest.mark.parametrize(("row", "reason"), [
    ("C9,NOPE,Ada,Lovelace,ada@example.com,Dev Lead", "unknown account 'NOPE'"),
    ("C9,{account},Ada,Lovelace,not-an-email,Dev Lead", "not an email address"),
    ("C9,{account},Ada,Lovelace,ada@example.com,Wizard", "unknown persona 'Wizard'"),
])
def test_bad_contact_rows(seeded, tmp_path, row, reason):
    account = Account.objects.first()
    text = "Id,AccountId,FirstName,LastName,Email,Persona\n" + row.format(account=account.external_id)
    before = Contact.objects.count()
    with pytest.raises(ImportRejected) as caught:
        run(write(tmp_path, text + "\n", "c.csv"), "contacts")
    assert reason in caught.value.errors[0].reason and caught.value.errors[0].line == 2
    assert Contact.objects.count() == before


def test_cli_import_reports_and_exits_non_zero(users, tmp_path, capsys):
    path = write(tmp_path, HEADER + GOOD[0] + "\nB-1,Bad Number,12k,,AMER,,,,\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", "accounts", str(path))
    assert "accounts.csv: line 3, column ARR: not a number: '12k'" in capsys.readouterr().err
    call_command("import", "accounts", str(path), "--partial")
    out = capsys.readouterr().out
    assert "1 created" in out and "1 rejected" in out
    assert (tmp_path / "accounts.csv.errors.csv").exists()
    with pytest.raises(CommandError, match="no such file"):
        call_command("import", "accounts", str(tmp_path / "missing.csv"))


def test_upload_page(client_as, users, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_as("admin")
    bad = SimpleUploadedFile("a.csv", (HEADER + "B-1,Bad,12k,,AMER,,,,\n").encode())
    response = client.post("/customers/import/", {"kind": "accounts", "file": bad})
    assert response.status_code == 400 and b"not a number" in response.content
    assert Account.objects.count() == 0
    good = SimpleUploadedFile("a.csv", (HEADER + GOOD[0] + "\n").encode())
    response = client.post("/customers/import/", {"kind": "accounts", "file": good})
    assert response.status_code == 200 and b"1 created" in response.content
    latin = SimpleUploadedFile("a.csv", (HEADER + "X,Caf\u00e9,1,,AMER,,,,\n").encode("latin-1"))
    response = client.post("/customers/import/", {"kind": "accounts", "file": latin})
    assert response.status_code == 400 and b"not UTF-8" in response.content
