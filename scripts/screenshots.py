"""Take the documentation screenshots of a running csops with the Debian Chromium.

    csops demo --port 8765 &          # prints the demo password
    python scripts/screenshots.py --url http://127.0.0.1:8765 --password <password>

Writes accounts.png, accounts-filtered.png, account-360.png, account-health.png, import.png,
config.png, health-dashboard.png, backtest.png, rules.png, rule.png, rule-runs.png,
rule-backtest.png, ctas.png (as the admin) and my-ctas.png, cta.png (as the CSM --csm)
into --out (docs/screenshots by default). Never downloads a browser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of csops")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--csm", default="csm.amer.1", help="a CSM login with CTAs (same password)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    return parser.parse_args(argv)


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")
    if "/login/" in page.url:
        sys.exit(f"Could not log in as {username!r} at {page.url}.")


def shoot(page: Page, path: str, out: Path, name: str) -> None:
    response = page.goto(path)
    if response is None or not response.ok:
        status = response.status if response else "no response"
        sys.exit(f"{path} answered {status}; not taking {name}.")
    capture(page, out, name)


def capture(page: Page, out: Path, name: str) -> None:
    page.wait_for_load_state("load")
    target = out / name
    page.screenshot(path=str(target), full_page=False)
    print(f"{target} ({target.stat().st_size // 1024} KB)")


def first_account_with_csm(page: Page) -> str:
    """The detail URL of the first account on the list (by name) that has a CSM."""
    for page_number in range(1, 21):
        page.goto(f"/customers/accounts/?per_page=250&page={page_number}")
        headers = [h.strip() for h in page.locator("table.list thead th").all_inner_texts()]
        csm_column = headers.index("CSM")
        for row in page.locator("table.list tbody tr").all():
            cells = row.locator("td")
            if cells.nth(csm_column).inner_text().strip():
                return cells.first.locator("a").get_attribute("href")
        if not page.locator("a[rel=next]").count():
            break
    sys.exit("No account has a CSM; load the demo data first.")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        )
        try:
            context = browser.new_context(base_url=args.url.rstrip("/"), viewport=VIEWPORT)
            context.set_default_timeout(30_000)
            page = context.new_page()
            log_in(page, args.username, args.password)

            shoot(page, "/customers/accounts/", args.out, "accounts.png")
            shoot(page, "/customers/accounts/?segment=Strategic&sort=-arr",
                  args.out, "accounts-filtered.png")

            detail = first_account_with_csm(page)
            shoot(page, detail, args.out, "account-360.png")
            expect(page.locator("main h1")).to_be_visible()

            page.goto(f"{detail}#health")
            page.locator("#health").screenshot(path=str(args.out / "account-health.png"))
            print(f"{args.out / 'account-health.png'}")

            shoot(page, "/customers/import/", args.out, "import.png")
            shoot(page, "/config/", args.out, "config.png")
            shoot(page, "/health/", args.out, "health-dashboard.png")
            page.goto("/health/backtests/")
            backtest = page.locator("table.list tbody a").first.get_attribute("href")
            shoot(page, backtest, args.out, "backtest.png")

            shoot(page, "/rules/", args.out, "rules.png")
            page.get_by_role("link", name="Product health drop").click()
            capture(page, args.out, "rule.png")
            rule_backtest = page.locator("#h-backtests + ul a").first.get_attribute("href")
            shoot(page, rule_backtest, args.out, "rule-backtest.png")
            shoot(page, "/rules/runs/?sort=started_at", args.out, "rule-runs.png")  # the first run's CTAs
            shoot(page, "/cockpit/ctas/?state=open", args.out, "ctas.png")

            context.clear_cookies()
            log_in(page, args.csm, args.password)
            shoot(page, "/cockpit/", args.out, "my-ctas.png")
            page.locator("main table a[href*='/cockpit/ctas/']").first.click()
            capture(page, args.out, "cta.png")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
