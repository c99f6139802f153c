"""The health distribution and platform adoption reports against hand-computed figures."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from csops.health.models import AccountHealth, ScoreHistory, ScoreRun

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
D0, D1, D2, D3 = (TODAY - dt.timedelta(days=n) for n in (400, 20, 10, 2))


@pytest.fixture
def book(make_account, team):
    """A (100k, Growth, team mgr): green on D1, red on D3. B (200k, Growth): yellow on D1. C (300k,
    Scale): red long before the period (D0), green on D2. A scoring run today changes nothing."""
    from csops.customers.models import Segment

    a = make_account(arr=Decimal("100000"))
    b = make_account(arr=Decimal("200000"), csm=None)
    c = make_account(arr=Decimal("300000"), csm=None, segment=Segment.objects.get(name="Scale"))
    for account, day, color in (
        (a, D1, "green"),
        (a, D3, "red"),
        (b, D1, "yellow"),
        (c, D0, "red"),
        (c, D2, "green"),
    ):
        ScoreHistory.objects.create(account=account, scored_on=day, score=50, color=color)
    ScoreRun.objects.create(as_of=TODAY, scorecard="PROVE")
    return {"a": a, "b": b, "c": c}


def rows(response, table: str) -> list[list[str]]:
    """A table of the page as text cells, read back from the HTML."""
    import re

    html = response.content.decode()
    body = html[html.index(f'id="table-{table}"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_distribution_counts_each_account_with_its_latest_colour(
    client_as, book, django_assert_max_num_queries
):
    viewer = client_as("viewer")
    with django_assert_max_num_queries(8):
        page = viewer.get("/reports/health-distribution/")
    assert page.status_code == 200
    # date, green, yellow, red, no colour, green ARR, yellow ARR, red ARR, % ARR green
    assert rows(page, "distribution") == [
        [str(D1), "1", "1", "1", "0", "100,000", "200,000", "300,000", "16.7"],  # C still red from D0
        [str(D2), "2", "1", "0", "0", "400,000", "200,000", "0", "66.7"],
        [str(D3), "1", "1", "1", "0", "300,000", "200,000", "100,000", "50.0"],
        [str(TODAY), "1", "1", "1", "0", "300,000", "200,000", "100,000", "50.0"],
    ]
    html = page.content.decode()
    assert "<svg" in html and "latest overall colour scored on or before the date" in html
    assert "33.3%" in html  # accounts green today: 1 of 3


def test_distribution_filters_by_segment_and_team(client_as, book):
    viewer = client_as("viewer")
    growth = rows(viewer.get("/reports/health-distribution/", {"segment": "Growth"}), "distribution")
    assert growth[1] == [str(D2), "1", "1", "0", "0", "100,000", "200,000", "0", "33.3"]
    team = rows(viewer.get("/reports/health-distribution/", {"team": "mgr"}), "distribution")
    # every scoring date is a row; the team's one account is green, then red from D3
    assert [r[:4] for r in team] == [
        [str(D1), "1", "0", "0"],
        [str(D2), "1", "0", "0"],
        [str(D3), "0", "0", "1"],
        [str(TODAY), "0", "0", "1"],
    ]
    short = rows(viewer.get("/reports/health-distribution/", {"months": "1"}), "distribution")
    assert [r[0] for r in short] == [str(d) for d in (D1, D2, D3, TODAY) if d >= TODAY.replace(day=1)]


def test_bad_filters_are_named_with_a_400(client_as, book):
    viewer = client_as("viewer")
    page = viewer.get("/reports/health-distribution/", {"months": "0", "segment": "Mars", "team": "nobody"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "months: &#x27;0&#x27; is not a number of months" in html
    assert "segment: &#x27;Mars&#x27; is not a segment" in html and "team: &#x27;nobody&#x27;" in html
    assert viewer.get("/reports/health-distribution/", {"export": "docx"}).status_code == 400
    unknown = viewer.get("/reports/nonsense/")
    assert (
        unknown.status_code == 400
        and "report: &#x27;nonsense&#x27; is not a report" in unknown.content.decode()
    )
    assert (
        "table: &#x27;x&#x27; is not one of distribution"
        in viewer.get("/reports/health-distribution/", {"export": "csv", "table": "x"}).content.decode()
    )


def test_distribution_exports(client_as, book):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    viewer = client_as("viewer")
    csv = viewer.get("/reports/health-distribution/", {"export": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("Scoring date,Green,Yellow,Red")
    assert lines[2] == f"{D2},2,1,0,0,400000.00,200000.00,0.00,66.7"
    xlsx = viewer.get("/reports/health-distribution/", {"export": "xlsx", "table": "distribution"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Scoring date" and values[2][1:4] == (2, 1, 0) and values[2][5] == 400000
    pdf = viewer.get("/reports/health-distribution/", {"export": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Health distribution over time" in text and "400,000" in text and "66.7" in text


# --- platform adoption ----------------------------------------------------------------------------

GREEN, YELLOW, RED = 2, 1, 0


def _health(account, adoption: int, **colors):
    measures = {
        key: {"value": 0.5, "color": color, "na": "", "stale": False, "contribution": 0}
        for key, color in colors.items()
    }
    AccountHealth.objects.create(
        account=account,
        scorecard="PROVE",
        scored_on=TODAY,
        score=60,
        color="yellow",
        adoption=adoption,
        measures=measures,
    )


@pytest.fixture
def adoption_book(book):
    _health(book["a"], 3, scm=GREEN, ci=GREEN, cd=GREEN, devsecops=RED)
    _health(book["b"], 1, scm=GREEN, ci=YELLOW)
    _health(book["c"], 0, scm=RED)
    return book


def test_adoption_shares_of_arr_and_use_case_colours(client_as, adoption_book, django_assert_max_num_queries):
    viewer = client_as("viewer")
    with django_assert_max_num_queries(10):
        page = viewer.get("/reports/adoption/")
    assert page.status_code == 200
    assert rows(page, "adoption") == [
        ["0", "1", "33.3", "300,000", "50.0"],
        ["1", "1", "33.3", "200,000", "33.3"],
        ["2", "0", "0.0", "0", "0.0"],
        ["3+", "1", "33.3", "100,000", "16.7"],
    ]
    assert rows(page, "by_segment") == [
        ["Growth", "0.0", "66.7", "0.0", "33.3", "300,000"],
        ["Scale", "100.0", "0.0", "0.0", "0.0", "300,000"],
    ]
    colours = {r[0]: r[1:] for r in rows(page, "use_cases")}
    assert colours["SCM adoption"] == ["2", "0", "1", "300,000", "50.0"]
    assert colours["CI adoption"] == ["1", "1", "0", "100,000", "16.7"]
    assert colours["DevSecOps adoption"] == ["0", "0", "1", "0", "0.0"]
    assert "16.7%" in page.content.decode()  # ARR with 3+ green use cases
    growth = client_as("viewer").get("/reports/adoption/", {"segment": "Growth"})
    assert rows(growth, "adoption")[3] == ["3+", "1", "50.0", "100,000", "33.3"]
