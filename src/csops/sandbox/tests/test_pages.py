"""The sandbox pages over a policy run on moto's EC2 server: the report's groups, counts and costs,
its filters and exports, a run's actions with their tag changes, bad parameters named, and the
query counts pinned."""

from __future__ import annotations

import csv
import io
import re
import urllib.request

import openpyxl
import pytest

from csops.sandbox.actions import run_cleanup
from csops.sandbox.models import SandboxAction, SandboxRun
from csops.sandbox.tests.conftest import day

EXPIRED = {"Discovered": "2026-11-01", "Expiration": "2026-11-15"}


@pytest.fixture
def account(ec2, launch, config) -> dict[str, str]:
    """One instance per interesting state, a dry run on day 0, then the real run."""
    ids = {
        "new": launch(name="jd-GitLabRunner", instance_type="t3.large", tags={"Owner": "jd@example.com"})[0],
        "unnamed": launch(name=None, instance_type="m5.large")[0],
        "permanent": launch(name="ak-demo", protected=True)[0],
        "bad_tag": launch(name="mr-poc", tags={"Discovered": "2026-11-20", "Expiration": "soon"})[0],
        "expired": launch(name="ts-k8s", instance_type="m5.xlarge", tags=EXPIRED)[0],
        "expiring": launch(
            name="lb-eks",
            instance_type="t3.micro",
            tags={"Discovered": "2026-11-19", "Expiration": "2026-12-03"},
        )[0],
        "active": launch(
            name="pq-vault",
            instance_type="t2.micro",
            tags={"Discovered": "2026-11-25", "Expiration": "2027-01-31"},
        )[0],
        "waited": launch(
            name="rs-old", tags={**EXPIRED, "StoppedOn": "2026-11-15", "ExpirationAtStop": "2026-11-15"}
        )[0],
    }
    ec2.stop_instances(InstanceIds=[ids["waited"]])
    run_cleanup(today=day(0), dry_run=True)
    run_cleanup(today=day(0))
    return ids


def groups(html: str) -> dict[str, tuple[int, str]]:
    """The report's summary: label → (instances, monthly cost)."""
    table = html.split('id="groups"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<th scope="row">(?:<a [^>]*>)?([^<]+)(?:</a>)?</th><td class="num">(\d+)</td>'
        r'<td class="num">\$([\d,.]+)',
        table,
    )
    return {label: (int(count), cost) for label, count, cost in rows}


def test_report_groups_instances_with_counts_and_costs(client_as, account):
    page = client_as("viewer").get("/sandbox/")
    assert page.status_code == 200
    html = page.content.decode()
    found = groups(html)
    assert found["New (tagged this run)"] == (1, "60.74")  # t3.large 0.0832 x 730 h
    assert found["Unnamed"] == (1, "0.00")  # stopped by the run: no compute
    assert found["Stopped, awaiting termination"] == (1, "0.00")  # the expired one, stopped today
    assert found["Expiring soon"] == (1, "7.59")  # t3.micro 0.0104 x 730
    assert found["Permanent"] == (1, "7.59")
    assert found["Tag not understood"] == (1, "7.59")
    assert found["Active"] == (1, "0.00")  # t2.micro has no price: counted as unpriced
    assert found["To terminate"] == (0, "0.00")  # rs-old was snapshotted and terminated
    assert found["Excluded"] == (0, "0.00")
    assert "7 instances: estimated compute $83.51 a month (1 without a price)" in html
    assert "Stopped instances cost no compute" in html and "sandbox_policies.yaml" in html
    assert account["waited"] not in html.split('id="runs"')[0]
    assert "termination protection without a PermanentReason tag saying why" in html
    assert "not a date: &#x27;soon&#x27;" in html
    assert "jd@example.com" in html and "(no name)" in html
    runs = html.split('id="runs"', 1)[1]
    assert "Dry run" in runs and "Real" in runs and "Planned (dry run)" in runs
    real = SandboxRun.objects.filter(dry_run=False).get()
    assert f'href="/sandbox/runs/{real.pk}/"' in runs
    assert "1 snapshot terminate" in runs and "2 stop" in runs and f">{real.api_calls}<" in runs


def test_report_filters(client_as, account):
    viewer = client_as("viewer")
    html = viewer.get("/sandbox/", {"category": "unnamed"}).content.decode()
    assert account["unnamed"] in html and account["new"] not in html
    assert groups(html)["Unnamed"] == (1, "0.00") and groups(html)["New (tagged this run)"] == (0, "0.00")
    for term in ("jd@example", "GitLabRunner", account["new"]):
        html = viewer.get("/sandbox/", {"q": term}).content.decode()
        assert account["new"] in html and account["expiring"] not in html, term
    html = viewer.get("/sandbox/", {"region": "us-east-1", "q": "nothing-like-this"}).content.decode()
    assert "No instance matches these filters" in html


def test_report_exports_csv_and_xlsx(client_as, account):
    viewer = client_as("viewer")
    response = viewer.get("/sandbox/", {"category": "new", "export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["Instance", "Region", "Name", "Type"] and len(rows) == 2
    assert rows[1][:3] == [account["new"], "us-east-1", "jd-GitLabRunner"] and rows[1][9] == "60.74"
    sheet = viewer.get("/sandbox/", {"export": "xlsx"})
    assert sheet["Content-Type"].startswith("application/vnd.openxmlformats")
    values = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    assert values[0][9] == "Monthly cost (USD)" and len(values) == 8
    by_id = {r[0]: r for r in values[1:]}
    assert by_id[account["new"]][9] == pytest.approx(60.74)  # a number, not text
    assert by_id[account["permanent"]][8] == "on"
    assert by_id[account["active"]][9] is None or by_id[account["active"]][9] == ""


def test_bad_parameters_are_named(client_as, account):
    viewer = client_as("viewer")
    response = viewer.get("/sandbox/", {"category": "lost", "region": "mars-1"})
    html = response.content.decode()
    assert response.status_code == 400 and "category: Select a valid choice" in html and "region:" in html
    assert viewer.get("/sandbox/", {"export": "docx"}).status_code == 400
    run = SandboxRun.objects.filter(dry_run=False).get()
    response = viewer.get(f"/sandbox/runs/{run.pk}/", {"outcome": "maybe"})
    assert response.status_code == 400 and "outcome: Select a valid choice" in response.content.decode()
    response = viewer.get(f"/sandbox/runs/{run.pk}/", {"export": "pdf"})
    assert response.status_code == 400 and "export: &#x27;pdf&#x27;" in response.content.decode()
    assert viewer.get("/sandbox/runs/999999/").status_code == 404


def test_run_page_shows_actions_with_tag_changes(client_as, account):
    viewer = client_as("viewer")
    run = SandboxRun.objects.filter(dry_run=False).get()
    html = viewer.get(f"/sandbox/runs/{run.pk}/").content.decode()
    assert "Real run: the plan, then the actions" in html and "1 snapshot terminate" in html
    assert "1 snapshot and terminate: done" in html and "2 reported: a problem, nothing done" in html
    assert "+ Discovered: 2026-12-01" in html and "+ Expiration: 2026-12-15" in html
    assert "+ StoppedOn: 2026-12-01" in html and "+ ExpirationAtStop: 2026-11-15" in html
    assert "first seen: expires on 2026-12-15" in html
    [snapshot] = SandboxAction.objects.get(run=run, instance_id=account["waited"]).snapshots
    assert snapshot in html
    stops = viewer.get(f"/sandbox/runs/{run.pk}/", {"action": "stop", "outcome": "done"}).content.decode()
    assert "2 actions" in stops and account["expired"] in stops and account["unnamed"] in stops
    assert account["new"] not in stops
    dry = SandboxRun.objects.filter(dry_run=True).get()
    planned = viewer.get(f"/sandbox/runs/{dry.pk}/", {"outcome": "planned"}).content.decode()
    assert "Dry run: the plan only" in planned and "unchanged" in planned and "+ Discovered" not in planned


def test_run_exports(client_as, account):
    viewer = client_as("viewer")
    run = SandboxRun.objects.filter(dry_run=False).get()
    sheet = viewer.get(f"/sandbox/runs/{run.pk}/", {"export": "xlsx", "action": "snapshot_terminate"})
    values = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    assert values[0][:4] == ("Instance", "Region", "Name", "Action") and len(values) == 2
    row = dict(zip(values[0], values[1], strict=True))
    assert row["Instance"] == account["waited"] and row["Outcome"] == "done"
    assert row["Snapshots"].startswith("snap-") and "StoppedOn=2026-11-15" in row["Tags before"]
    text = viewer.get(f"/sandbox/runs/{run.pk}/", {"export": "csv", "action": "tag"}).content.decode()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert {r["Instance"] for r in lines} == {account["new"]}
    assert "+Discovered: 2026-12-01" in lines[0]["Tag changes"]


def test_empty_state_says_how_to_run(client_as, config):
    html = client_as("viewer").get("/sandbox/").content.decode()
    assert "No cleanup has run yet" in html and "csops sandbox clean --dry-run" in html


def test_pages_need_a_login_and_keep_their_query_counts(
    client, client_as, account, django_assert_max_num_queries
):
    assert client.get("/sandbox/").status_code == 302
    viewer = client_as("viewer")
    run = SandboxRun.objects.filter(dry_run=False).get()
    with django_assert_max_num_queries(8):
        assert viewer.get("/sandbox/", {"region": "us-east-1"}).status_code == 200
    with django_assert_max_num_queries(8):
        assert viewer.get(f"/sandbox/runs/{run.pk}/").status_code == 200
    with django_assert_max_num_queries(6):
        assert viewer.get("/sandbox/", {"export": "xlsx"}).status_code == 200


def test_demo_account_fills_every_group_and_survives_a_second_demo(ec2, users, client_as, moto_url):
    from csops.sandbox.synthetic import seed_sandbox

    line = seed_sandbox(today=day(0))
    assert line.startswith(
        "40 instances on a local EC2 (moto), 4 runs: 14 tagged and 7 stopped 14 days ago, "
        "3 snapshotted and terminated 7 days ago, 3 stopped yesterday"
    ), line
    found = groups(client_as("viewer").get("/sandbox/").content.decode())
    assert {label: n for label, (n, _) in found.items()} == {
        "To terminate": 3,  # stopped a week ago (2), started again with the expiry unchanged (1)
        "Stopped, awaiting termination": 8,  # expiring today (5, to stop), stopped yesterday (3)
        "Expiring soon": 3,
        "Unnamed": 4,
        "Tag not understood": 1,
        "New (tagged this run)": 3,
        "Active": 15,
        "Permanent": 3,
        "Excluded": 0,
        "All": 40,
    }
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
    again = seed_sandbox(today=day(0))
    assert again.startswith("40 instances rebuilt"), again
    assert SandboxRun.objects.count() == 4
    assert len(ec2.describe_instances()["Reservations"]) == 40
