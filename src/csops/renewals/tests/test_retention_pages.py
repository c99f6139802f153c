"""The retention page and its drill-down reconcile: every figure is the sum of its customers."""

from __future__ import annotations

import re

from csops.renewals.tests.test_retention import END, START, book  # noqa: F401  (fixture)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_each_figure_reconciles_with_its_customers(client_as, book):  # noqa: F811
    leader = client_as("viewer")
    page = leader.get("/renewals/retention/", {"end": "2026-11", "by": "segment"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Net retention" in html and "children count with their parent" in html
    for kind, group, expected in (
        ("contraction", "Growth", 50),
        ("contraction", "Scale", 40),
        ("churn", "Scale", 50),
        ("expansion", "Growth", 20),
    ):
        drill = leader.get(
            "/renewals/retention/customers/",
            {"end": "2026-11", "by": "segment", "group": group, "kind": kind},
        )
        caption = re.search(r"starting ARR ([\d,]+), change (-?[\d,]+)", drill.content.decode())
        assert abs(number(caption.group(2))) == expected, (kind, group)
    overall = leader.get("/renewals/retention/customers/", {"end": "2026-11"}).content.decode()
    assert "4 customers: starting ARR 490, change -120" in overall


def test_bad_parameters_are_named(client_as, book):  # noqa: F811
    viewer = client_as("viewer")
    response = viewer.get("/renewals/retention/", {"end": "2026-13", "months": "0"})
    assert response.status_code == 400
    assert "end: &#x27;2026-13&#x27; is not a month" in response.content.decode()
    assert "months: &#x27;0&#x27;" in response.content.decode()
    response = viewer.get("/renewals/retention/customers/", {"kind": "theft"})
    assert response.status_code == 400 and "kind: &#x27;theft&#x27;" in response.content.decode()


def test_retention_exports_xlsx_csv_and_pdf(client_as, book):  # noqa: F811
    import io

    import openpyxl
    from pypdf import PdfReader

    leader = client_as("viewer")
    sheet = leader.get("/renewals/retention/", {"end": "2026-11", "by": "segment", "export": "xlsx"})
    assert sheet["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    assert rows[0][:4] == ("Group", "Customers", "Starting ARR", "Ending ARR")
    assert {r[0]: r[2] for r in rows[1:]} == {"Growth": 300, "Scale": 190, "All": 490}
    drill = leader.get(
        "/renewals/retention/customers/", {"end": "2026-11", "kind": "contraction", "export": "csv"}
    )
    lines = drill.content.decode().splitlines()
    assert lines[0] == "Customer,Group,Starting ARR,Ending ARR,Change,Movement" and len(lines) == 3
    assert leader.get("/renewals/retention/", {"export": "docx"}).status_code == 400
    pdf = leader.get("/renewals/retention/", {"end": "2026-11", "export": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Retention" in text and "490" in text and "Net retention" in text
