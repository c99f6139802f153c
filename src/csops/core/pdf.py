"""HTML to PDF for printable pages (the leadership status report). WeasyPrint renders it; it needs
Pango on the machine, and where it cannot load, the Debian Chromium prints the page instead
(through Playwright, when installed). The HTML must be self-contained: styles inline, no URL to
fetch, so nothing is ever fetched while rendering."""

from __future__ import annotations

import os
from pathlib import Path

ENGINES = ("weasyprint", "chromium")


class PdfUnavailable(RuntimeError):
    """Neither engine can render here; the message says what to install."""


def html_to_pdf(html: str, *, engine: str | None = None) -> bytes:
    """The document as PDF bytes; `engine` forces one (default: WeasyPrint, else Chromium)."""
    if engine == "chromium":
        return _chromium(html)
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the package is there but Pango is not
        if engine == "weasyprint":
            raise PdfUnavailable(f"WeasyPrint cannot load: {exc}") from exc
        return _chromium(html, why=f"WeasyPrint cannot load ({exc})")
    return weasyprint.HTML(string=html).write_pdf()


def chromium_path() -> Path:
    return Path(os.environ.get("CSOPS_CHROMIUM", "/usr/bin/chromium"))


def _chromium(html: str, why: str = "") -> bytes:
    prefix = f"{why}; " if why else ""
    executable = chromium_path()
    if not executable.exists():
        raise PdfUnavailable(f"{prefix}no Chromium at {executable} (set CSOPS_CHROMIUM) to print with.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise PdfUnavailable(f"{prefix}Playwright is not installed to drive Chromium with.") from exc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()
