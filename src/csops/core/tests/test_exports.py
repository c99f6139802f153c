"""core.exports: tables as CSV or XLSX, dashboards as PDF."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import RequestFactory

from csops.core import exports

HEADERS = ["Segment", "Accounts", "ARR", "Since"]
ROWS = [["Growth", 3, Decimal("1250.50"), dt.date(2026, 1, 31)], ["Scale", 0, None, None]]


def test_requested_reads_the_export_parameter():
    factory = RequestFactory()
    assert exports.requested(factory.get("/x/", {"export": "csv"})) == "csv"
    assert exports.requested(factory.get("/x/")) is None


def test_csv_has_the_headers_and_rows_with_empty_for_none():
    response = exports.table_response("csv", "segments", HEADERS, ROWS)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="segments-')
    assert response.content.decode().splitlines() == [
        "Segment,Accounts,ARR,Since",
        "Growth,3,1250.50,2026-01-31",
        "Scale,0,,",
    ]


def test_xlsx_keeps_numbers_and_dates_as_such():
    from openpyxl import load_workbook

    response = exports.table_response("xlsx", "segments", HEADERS, ROWS, sheet="By segment")
    assert response["Content-Type"] == exports.XLSX_TYPE
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["By segment"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == tuple(HEADERS) and sheet["A1"].font.bold
    assert values[1] == ("Growth", 3, 1250.5, dt.datetime(2026, 1, 31))
    assert values[2] == ("Scale", 0, None, None)


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="export: 'docx' is not one of csv, xlsx"):
        exports.table_response("docx", "segments", HEADERS, ROWS)


def test_pdf_is_a_pdf_with_the_content(db):
    from django.contrib.auth.models import AnonymousUser
    from pypdf import PdfReader

    request = RequestFactory().get("/x/", {"export": "pdf"})
    request.user = AnonymousUser()
    response = exports.pdf_response(
        request, "core/print_base.html", {"title": "Net retention 104%"}, "retention"
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith('attachment; filename="retention-')
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Net retention 104%" in text and "Printed" in text
