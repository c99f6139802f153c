"""The rules pages: list, detail, run history, backtests; who may run what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from csops.rules.actions import run_rules
from csops.rules.backtest import backtest_rule
from csops.rules.models import Rule
from csops.rules.tests.conftest import TODAY


@pytest.fixture
def history(make_account):
    for _ in range(3):
        make_account(renewal_date=TODAY + dt.timedelta(days=40), csm_sentiment="red")
    Rule.objects.create(name="Broken", when=["nothing_here"], actions=[{"notify": {"to": "csm"}}])
    run_rules(as_of=TODAY)
    run_rules(as_of=TODAY, names=["Upcoming renewal"], dry_run=True)


def test_rule_list_shows_each_rule_with_its_last_run(history, client_as):
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/rules/")
    assert page.status_code == 200 and len(queries) <= 5, "\n".join(q["sql"] for q in queries)
    html = page.content.decode()
    assert "Upcoming renewal" in html and "3 create cta" in html
    assert "failed" in html and "unknown name" in html


@pytest.mark.parametrize("url", ["/rules/runs/?per_page=25", "/rules/runs/?per_page=100&failed=true"])
def test_run_history_query_count_is_pinned(history, client_as, url):
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) <= 7, "\n".join(q["sql"] for q in queries)
    with CaptureQueriesContext(connection) as smaller:
        client.get(url.replace("100", "25"))
    assert len(smaller) == len(queries)


def test_run_history_filters(history, client_as):
    client = client_as("viewer")
    failed = client.get("/rules/runs/?failed=true").context["rows"]
    assert [row["object"].rule for row in failed] == ["Broken"]
    dry = client.get("/rules/runs/?dry_run=true&rule=Upcoming+renewal").context["rows"]
    assert [(row["object"].rule, row["object"].actions) for row in dry] == [
        ("Upcoming renewal", {"create_cta": 0})
    ]
    assert client.get("/rules/runs/?trigger=nonsense").status_code == 400
    export = client.get("/rules/runs/?export=csv")
    assert b"Rule,Started,Trigger" in b"".join(export.streaming_content)


def test_rule_detail_and_who_may_run_it(history, client_as):
    rule = Rule.objects.get(name="Upcoming renewal")
    page = client_as("csm").get(f"/rules/{rule.pk}/")
    html = page.content.decode()
    assert "months_until(renewal_date) &lt;= 4" in html and "Dry run" not in html
    assert client_as("csm").post(f"/rules/{rule.pk}/run/").status_code == 403
    admin = client_as("admin")
    assert "Dry run" in admin.get(f"/rules/{rule.pk}/").content.decode()
    response = admin.post(f"/rules/{rule.pk}/run/", {"dry_run": "1"})
    assert response.status_code == 302
    task = DBTaskResult.objects.get(task_path="csops.rules.tasks.run_rules")
    assert (
        task.args_kwargs["args"] == [["Upcoming renewal"]] and task.args_kwargs["kwargs"]["dry_run"] is True
    )
    bad = admin.post(f"/rules/{rule.pk}/backtest/", {"days": "0", "step_days": "1"})
    assert bad.status_code == 400 and "greater than or equal to 1" in bad.content.decode()
    assert admin.post(f"/rules/{rule.pk}/backtest/", {"days": "7", "step_days": "1"}).status_code == 302
    assert DBTaskResult.objects.filter(task_path="csops.rules.tasks.backtest").count() == 1


def test_backtest_page(history, client_as):
    report = backtest_rule(Rule.objects.get(name="Upcoming renewal"), days=3, as_of=TODAY)
    page = client_as("viewer").get(report.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "In the audience on the first day" in html
