"""Tables as downloads (CSV or XLSX) and dashboards as PDF: one way for every page that offers them.

A page passes its table as headers and rows of plain values (str, int, float, Decimal, date); the
format comes from ?export=csv|xlsx|pdf."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from csops.core.pdf import PdfUnavailable, html_to_pdf

TABLE_FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def requested(request: HttpRequest) -> str | None:
    """The export format asked for (?export=), or None for the page itself."""
    return request.GET.get("export") or None


def _filename(name: str, extension: str) -> str:
    return f"{name}-{timezone.localtime():%Y%m%d-%H%M}.{extension}"


def _cell(value: Any) -> Any:
    # Spreadsheets take numbers and dates as they are; everything else is its text.
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (int, float, dt.date, dt.datetime)):
        return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value
    return str(value)


def table_response(
    fmt: str, name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = ""
) -> HttpResponse:
    """The table as a CSV or XLSX attachment named `name`-<timestamp>; ValueError on another format."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(headers, rows, sheet=sheet or name), content_type=XLSX_TYPE)
    else:
        raise ValueError(f"export: {fmt!r} is not one of {', '.join(TABLE_FORMATS)}.")
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, fmt)}"'
    return response


def xlsx_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    table = book.create_sheet(sheet[:31])  # Excel's limit on a sheet's name
    bold = []
    for header in headers:
        cell = WriteOnlyCell(table, value=header)
        cell.font = Font(bold=True)
        bold.append(cell)
    table.append(bold)
    for row in rows:
        table.append([_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def pdf_response(request: HttpRequest, template: str, context: dict[str, Any], name: str) -> HttpResponse:
    """A dashboard printed to PDF from a self-contained template (inline styles and SVG); 503 with
    the reason when no PDF engine can run here."""
    html = render_to_string(template, {**context, "printed_at": timezone.localtime()}, request=request)
    try:
        document = html_to_pdf(html)
    except PdfUnavailable as exc:
        return HttpResponse(f"PDF export is unavailable here: {exc}", status=503, content_type="text/plain")
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "pdf")}"'
    return response
