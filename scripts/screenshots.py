"""Take the documentation screenshots of a running csops with the Debian Chromium.

    export CSOPS_DATA_DIR=$(mktemp -d)
    csops demo --port 8765 &          # prints the demo password
    python scripts/screenshots.py --url http://127.0.0.1:8765 --password <password> \
        --data-dir "$CSOPS_DATA_DIR"

Writes accounts.png, accounts-filtered.png, account-360.png, account-health.png, import.png,
config.png, health-dashboard.png, backtest.png, rules.png, rule.png, rule-runs.png,
rule-backtest.png, ctas.png, programs.png, program.png, email-template.png, surveys.png,
outbox.png, outbox-message.png, engagements.png, engagement.png, engagement-dashboard.png,
escalations.png, escalation.png (as the admin), my-ctas.png, cta.png, email-assist.png (as the CSM
--csm), engagement-new.png (the CSE Help form, as the account owner --ae) and survey-phone.png (the
public survey page on a 390x844 phone, no login) into --out (docs/screenshots by default). With
--only engagements, takes only the CSE engagement and escalation ones; --only requests, the CS Ops
request board, a request and the weekly triage list (requests-board.png, request.png,
requests-triage.png); --only renewals, the pipeline, a renewal, retention, the forecast and the
handoffs (renewals.png, renewal.png, retention.png, forecast.png, handoffs.png); --only reports,
the catalogue and the health distribution (reports.png, report-health.png); --only sandbox, the
sandbox report and a run (sandbox.png, sandbox-run.png). Never downloads a browser.

The survey page needs a live invitation token, and the database keeps only digests of those.
With --data-dir (the demo's CSOPS_DATA_DIR) the script invites one contact to the "Pre-renewal
NPS" survey itself, through `csops shell` on the application database (SQLite; the demo's DuckDB
store is not touched, so this is safe while the demo runs), and reads the token from the link in
the queued email. Or make the invitation yourself and pass its page with --survey-url:

    CSOPS_DATA_DIR=<the demo's> csops shell -c "$(python scripts/screenshots.py --print-invite-code)"
    # prints SURVEY /s/<token>/: pass --survey-url http://127.0.0.1:8765/s/<token>/ (or just the path)

Without either, survey-phone.png is skipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# In the demo every enrolment in it has run to the end (emails sent, opened, clicked, CTAs raised).
# Shown when anyone is enrolled in it, else the program with the most enrolments.
PROGRAM = "90 day low license utilization"
TEMPLATE = "21 day check in"  # previewed for the default account (one with a GitLab Admin contact)

# Run by `csops shell -c`: invites one contact to a survey and prints the path of its public page.
INVITE_CODE = """
import re
from urllib.parse import urlsplit
from django.utils import timezone
from csops.customers.models import Contact
from csops.programs import outbox, surveys
from csops.programs.models import Survey, SurveyInvitation
contact = (Contact.objects.filter(email_opt_out=False, account__csm__isnull=False)
           .exclude(email="").order_by("pk").first())
key = f"screenshots:{contact.pk}:{timezone.now().isoformat()}"
row = {"account_id": contact.account_id, "contact_id": contact.pk, "key": key}
assert surveys.invite_contacts(Survey.objects.get(name="Pre-renewal NPS"), [row]) == 1
text = SurveyInvitation.objects.select_related("message").get(key=key).message.text
for link in re.findall(r"https?://\\S+/t/[^/\\s]+/", text):
    _, name, url = outbox.read_token(urlsplit(link).path.split("/")[2], outbox.TRACK_SALT)
    if name == "survey":
        print("SURVEY", urlsplit(url).path)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of csops")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--csm", default="csm.amer.1", help="a CSM login with CTAs (same password)")
    parser.add_argument("--ae", default="ae.amer.1",
                        help="an account owner (AE) login with TAM Scale accounts (same password)")
    parser.add_argument("--only",
                        choices=["engagements", *SECTIONS],
                        help="take only these: the CSE engagement and escalation pages, governance, "
                             "the CS Ops requests, webinars and labs, renewals, reports, or the sandbox")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--data-dir", type=Path,
                        help="the demo's CSOPS_DATA_DIR: invite a contact to a survey for survey-phone.png")
    parser.add_argument("--survey-url", help="a public survey page (/s/<token>/) for survey-phone.png")
    parser.add_argument("--print-invite-code", action="store_true",
                        help="print the `csops shell -c` code that makes a survey invitation, and exit")
    if "--print-invite-code" in (sys.argv[1:] if argv is None else argv):
        print(INVITE_CODE.strip())
        sys.exit(0)
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


def program_with_results(page: Page) -> str:
    """The detail URL of PROGRAM if anyone is enrolled in it, else of the most enrolled program."""
    page.goto("/programs/")
    headers = [h.strip() for h in page.locator("table.list thead th").all_inner_texts()]
    counted = [headers.index(name) for name in ("In progress", "Completed", "Exited")]
    best, best_count = None, -1
    for row in page.locator("table.list tbody tr").all():
        cells = row.locator("td")
        link = cells.first.locator("a")
        count = sum(int(cells.nth(i).inner_text().replace(",", "") or 0) for i in counted)
        if link.inner_text().strip() == PROGRAM and count:
            return link.get_attribute("href")
        if count > best_count:
            best, best_count = link.get_attribute("href"), count
    if best is None:
        sys.exit("No programs; apply the default configuration first.")
    return best


def cse_help_path(page: Page) -> str:
    """The CSE Help form of an account the logged-in owner may file for, one with requests if there is.

    The accounts of the request list come first, then the TAM Scale pool's; the first whose form shows
    no reason it cannot be filed, preferring one that needs no sales leader's approval.
    """
    page.goto("/engagements/?per_page=250")
    requests = [a.get_attribute("href") for a in page.locator("table.list tbody td:first-child a").all()]
    accounts = []
    for href in requests:
        page.goto(href)
        accounts.append(page.locator("dl.attrs a[href^='/customers/accounts/']").first.get_attribute("href"))
    for page_number in range(1, 21):
        page.goto(f"/customers/accounts/?csm=tam-scale&per_page=250&page={page_number}")
        accounts += [a.get_attribute("href") for a in page.locator("table.list tbody td:first-child a").all()]
        if not page.locator("a[rel=next]").count():
            break
    needs_approval = None
    for href in dict.fromkeys(accounts):
        path = f"/engagements/new/?account={href.rstrip('/').rsplit('/', 1)[1]}"
        html = page.request.get(path).text()
        if 'id="cannot-file"' in html or "File the request" not in html:
            continue
        if "approval needed" not in html:
            return path
        needs_approval = needs_approval or path
    if needs_approval is None:
        sys.exit("No TAM Scale account of this owner qualifies for CSE Help; pass another --ae.")
    return needs_approval


def new_survey_path(data_dir: Path) -> str:
    """Invite a contact through `csops shell` on the demo's data directory; its survey page's path."""
    csops = Path(sys.executable).with_name("csops")
    result = subprocess.run(
        [str(csops), "shell", "-c", INVITE_CODE],
        env={**os.environ, "CSOPS_DATA_DIR": str(data_dir)},
        capture_output=True, text=True, check=False,
    )
    paths = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("SURVEY ")]
    if result.returncode or not paths:
        sys.exit(f"Could not make a survey invitation:\n{result.stdout}{result.stderr}")
    return paths[0]


def admin_shots(page: Page, out: Path) -> None:
    shoot(page, "/customers/accounts/", out, "accounts.png")
    shoot(page, "/customers/accounts/?segment=Strategic&sort=-arr", out, "accounts-filtered.png")

    detail = first_account_with_csm(page)
    shoot(page, detail, out, "account-360.png")
    expect(page.locator("main h1")).to_be_visible()

    page.goto(f"{detail}#health")
    page.locator("#health").screenshot(path=str(out / "account-health.png"))
    print(f"{out / 'account-health.png'}")

    shoot(page, "/customers/import/", out, "import.png")
    shoot(page, "/health/", out, "health-dashboard.png")
    page.goto("/health/backtests/")
    backtest = page.locator("table.list tbody a").first.get_attribute("href")
    shoot(page, backtest, out, "backtest.png")

    shoot(page, "/rules/", out, "rules.png")
    page.get_by_role("link", name="Product health drop").click()
    capture(page, out, "rule.png")
    rule_backtest = page.locator("#h-backtests + ul a").first.get_attribute("href")
    shoot(page, rule_backtest, out, "rule-backtest.png")
    shoot(page, "/rules/runs/?sort=started_at", out, "rule-runs.png")  # the first run's CTAs
    shoot(page, "/cockpit/ctas/?state=open", out, "ctas.png")

    shoot(page, "/programs/", out, "programs.png")
    shoot(page, program_with_results(page), out, "program.png")
    page.goto("/programs/templates/")
    page.get_by_role("link", name=TEMPLATE, exact=True).click()
    expect(page.locator("#h-subject")).to_be_visible()  # rendered for a real account
    capture(page, out, "email-template.png")
    shoot(page, "/programs/surveys/", out, "surveys.png")
    shoot(page, "/programs/outbox/", out, "outbox.png")
    page.goto("/programs/outbox/?status=sent&kind=program")
    sent = page.locator("table.list tbody a[href*='/programs/outbox/']").first
    if sent.count():
        shoot(page, sent.get_attribute("href"), out, "outbox-message.png")
    else:
        print("No program email was sent yet; not taking outbox-message.png.", file=sys.stderr)


def engagement_shots(page: Page, out: Path) -> None:
    """The CSE engagement requests and the escalations, as the admin."""
    shoot(page, "/engagements/", out, "engagements.png")
    # A request with its call logged and its follow-up sent, else the furthest along there is.
    for status in ("followed_up", "called", "open", ""):
        page.goto(f"/engagements/?status={status}" if status else "/engagements/")
        request = page.locator("table.list tbody td:first-child a").first
        if request.count():
            shoot(page, request.get_attribute("href"), out, "engagement.png")
            break
    else:
        print("No engagement request; not taking engagement.png.", file=sys.stderr)
    shoot(page, "/engagements/dashboard/", out, "engagement-dashboard.png")
    shoot(page, "/escalations/", out, "escalations.png")
    escalation = page.locator("table.list tbody td:first-child a").first
    if escalation.count():
        shoot(page, escalation.get_attribute("href"), out, "escalation.png")
    else:
        print("No escalation; not taking escalation.png.", file=sys.stderr)


def governance_shots(page: Page, out: Path) -> None:
    """Configuration changes as the admin: an open change request with its impact, the changelog."""
    shoot(page, "/governance/config/", out, "config.png")
    shoot(page, "/governance/config/rules/object/?key=Large+opportunity", out, "config-object.png")
    page.goto("/governance/changes/?status=open")
    change = page.locator("table.list tbody td:first-child a").first
    if change.count():
        shoot(page, change.get_attribute("href"), out, "change-request.png")
    else:
        print("No open change request; not taking change-request.png.", file=sys.stderr)
    shoot(page, "/governance/changelog/", out, "changelog.png")
    shoot(page, "/governance/responsibilities/", out, "responsibilities.png")
    shoot(page, "/governance/responsibilities/report/", out, "responsibilities-report.png")


def requests_shots(page: Page, out: Path) -> None:
    """The CS Ops requests as the admin: the board, a request awaiting its peer review, the triage list."""
    shoot(page, "/requests/", out, "requests-board.png")
    page.goto("/requests/list/?state=awaiting_feedback")
    request = page.locator("table.list tbody td:first-child a").first
    if request.count():
        shoot(page, request.get_attribute("href"), out, "request.png")
    else:
        print("No request awaiting feedback; not taking request.png.", file=sys.stderr)
    shoot(page, "/requests/triage/", out, "requests-triage.png")


def events_shots(page: Page, out: Path) -> None:
    """Webinars and labs: the calendar, a lab's page, last month's results, the public pages."""
    shoot(page, "/events/", out, "events.png")
    lab = page.locator("main table a[href^='/events/']").filter(has_text="lab").first
    shoot(page, lab.get_attribute("href"), out, "event-lab.png")
    page.goto("/events/?past=1")
    past = page.locator("main table a[href^='/events/']").first.get_attribute("href")
    shoot(page, f"{past.rstrip('/')}/results/", out, "event-results.png")
    shoot(page, "/e/", out, "events-public.png")


def renewals_shots(page: Page, out: Path) -> None:
    shoot(page, "/renewals/?open=true&at_risk=true", out, "renewals.png")
    page.locator("table.list tbody tr td a").first.click()
    capture(page, out, "renewal.png")
    shoot(page, "/renewals/retention/?by=segment", out, "retention.png")
    shoot(page, "/renewals/forecast/", out, "forecast.png")
    shoot(page, "/renewals/handoffs/", out, "handoffs.png")


def sandbox_shots(page: Page, out: Path) -> None:
    """The report, then the last real run that snapshotted and terminated instances."""
    shoot(page, "/sandbox/", out, "sandbox.png")
    runs = page.locator("#runs tbody tr").filter(has_text="Real").filter(has_text="snapshot terminate")
    target = runs.first if runs.count() else page.locator("#runs tbody tr")
    shoot(page, target.first.locator("a").first.get_attribute("href"), out, "sandbox-run.png")


def csm_shots(page: Page, out: Path) -> None:
    shoot(page, "/cockpit/", out, "my-ctas.png")
    page.locator("main table a[href*='/cockpit/ctas/']").first.click()
    capture(page, out, "cta.png")
    assist = page.locator("#assist")
    if assist.get_by_text("Send an email").count():
        assist.get_by_text("Send an email").click()
        assist.screenshot(path=str(out / "email-assist.png"))
        print(f"{out / 'email-assist.png'}")


def reports_shots(page: Page, out: Path) -> None:
    shoot(page, "/reports/", out, "reports.png")
    shoot(page, "/reports/health-distribution/", out, "report-health.png")


# What --only takes besides engagements (which goes on to the account owner's form), in order.
SECTIONS = {
    "governance": governance_shots,
    "requests": requests_shots,
    "events": events_shots,
    "renewals": renewals_shots,
    "sandbox": sandbox_shots,
    "reports": reports_shots,
}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    everything = args.only is None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        )
        try:
            context = browser.new_context(base_url=args.url.rstrip("/"), viewport=VIEWPORT)
            context.set_default_timeout(30_000)
            page = context.new_page()
            log_in(page, args.username, args.password)
            if everything:
                admin_shots(page, args.out)
            if args.only in SECTIONS:
                SECTIONS[args.only](page, args.out)
                return
            for shots in SECTIONS.values() if everything else ():
                shots(page, args.out)
            engagement_shots(page, args.out)

            if everything:
                context.clear_cookies()
                log_in(page, args.csm, args.password)
                csm_shots(page, args.out)

            context.clear_cookies()
            log_in(page, args.ae, args.password)
            shoot(page, cse_help_path(page), args.out, "engagement-new.png")
            expect(page.get_by_role("button", name="File the request")).to_be_visible()
            if not everything:
                return

            survey = args.survey_url or (new_survey_path(args.data_dir) if args.data_dir else None)
            if survey:
                phone = browser.new_context(
                    base_url=args.url.rstrip("/"), viewport=PHONE, is_mobile=True, has_touch=True,
                )
                public = phone.new_page()
                shoot(public, urlsplit(survey).path, args.out, "survey-phone.png")
                expect(public.get_by_role("button", name="Send my answer")).to_be_visible()
            else:
                print("No --data-dir or --survey-url; not taking survey-phone.png.", file=sys.stderr)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
