"""A leader opens the retention dashboard in Chromium, drills into contraction, exports the
customers as XLSX, and prints the dashboard to PDF."""

from __future__ import annotations

import io

import openpyxl
import pytest
from pypdf import PdfReader

from csops.customers.tests.test_browser import browser, expect, log_in, page  # noqa: F401
from csops.renewals.tests.test_retention import book  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_leader_drills_into_contraction_and_exports(page, book, tmp_path):  # noqa: F811
    log_in(page, "viewer-user")
    page.goto("/renewals/retention/?end=2026-11&by=segment")
    expect(page.get_by_role("heading", name="Retention")).to_be_visible()
    expect(page.locator("figure.chart svg")).to_be_visible()
    growth = page.locator("#retention tbody tr", has_text="Growth")
    expect(growth.locator("td").nth(1)).to_have_text("300")  # starting ARR: A 100 + B 200
    growth.locator("td").nth(4).get_by_role("link").click()  # contraction: 50

    expect(page.get_by_role("heading", name="Retention: contraction")).to_be_visible()
    expect(page.locator("#customers caption")).to_have_text("1 customer: starting ARR 200, change -50")
    expect(page.locator("#customers tbody tr")).to_have_count(1)
    expect(page.locator("#customers tbody")).to_contain_text(book["b"].name)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export XLSX").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".xlsx"
    rows = list(openpyxl.load_workbook(path).active.values)
    assert rows == [
        ("Customer", "Group", "Starting ARR", "Ending ARR", "Change", "Movement"),
        (book["b"].name, "Growth", 200, 150, -50, "contraction"),
    ]

    page.get_by_role("link", name="Back to retention").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export PDF").click()
    pdf = tmp_path / "retention.pdf"
    download.value.save_as(pdf)
    document = PdfReader(io.BytesIO(pdf.read_bytes()))
    text = "".join(p.extract_text() for p in document.pages)
    assert "Retention" in text and "Net retention" in text and "76%" in text  # 370 / 490
