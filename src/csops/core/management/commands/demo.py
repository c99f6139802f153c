import datetime as dt
import secrets
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from csops.cockpit.synthetic_history import seed_cta_history
from csops.core.actions import set_demo_logins
from csops.core.configuration import apply_configuration, default_directory
from csops.core.models import ConfigChange
from csops.customers.models import Account
from csops.engagements.synthetic import seed_requests
from csops.events.synthetic import seed_events
from csops.governance.responsibility_demo import seed_processes
from csops.governance.synthetic import seed_changes
from csops.health.models import Backtest, ScoreRun
from csops.programs import mailcatcher
from csops.programs.models import OutboxMessage
from csops.programs.synthetic import replay_days
from csops.renewals.synthetic import seed_arr_history, seed_handoffs, seed_pipeline
from csops.renewals.synthetic_forecast import seed_renewal_history
from csops.reports.actions import seed_report_subscriptions
from csops.requests.synthetic import seed_ops_requests
from csops.rules.actions import evaluate_pending
from csops.rules.models import RuleBacktest
from csops.sandbox import synthetic as sandbox_demo


class Command(BaseCommand):
    help = "Migrate, load the default configuration and demo data, and serve on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=2000)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Prepare the data and stop.")

    def handle(self, accounts, port, no_serve, **options):
        catcher = self.catch_mail()
        try:
            self.prepare(accounts, port, catcher is not None)
        finally:
            if no_serve and catcher:
                catcher.stop()
        if not no_serve:
            # The scheduler and task queue run beside the web server, as `csops worker` would.
            threading.Thread(target=call_command, args=("worker", "--interval", "2"), daemon=True).start()
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, skip_checks=True)

    def prepare(self, accounts: int, port: int, catching: bool) -> None:
        self.stderr.write("Migrating the database …")
        call_command("migrate", verbosity=0, interactive=False)
        self.configure()
        if not Account.objects.exists():
            call_command("seed", accounts=accounts, seed=1, stdout=self.stderr)
        if not ScoreRun.objects.exists():
            # A few past scores, so trends and "what moved" have a history to show.
            for weeks in (12, 8, 4):
                call_command("health", "score", "--as-of", str(dt.date.today() - dt.timedelta(weeks=weeks)),
                             stdout=self.stderr)
        call_command("health", "score", stdout=self.stderr)
        if not Backtest.objects.exists():
            call_command("health", "backtest", "--as-of", str(dt.date.today() - dt.timedelta(days=200)),
                         "--horizon", "180d", stdout=self.stderr)
        self.run_rules()
        if not OutboxMessage.objects.filter(kind="program").exists():
            self.stderr.write("Replaying the last five weeks of programs …")
            replay_days(days=35, seed=1, progress=self.stderr.write)
            # The survey answers marked their accounts: the rules hear of them, as the worker would.
            done = evaluate_pending()
            self.stderr.write(f"  rules re-run over the {done['accounts']} accounts that answered a survey")
        filed = seed_requests()
        if filed:
            self.stderr.write(f"CSE engagement requests: {filed} filed by their account owners and worked")
        password = secrets.token_urlsafe(9)
        logins = set_demo_logins(password)
        ops_requests, triaged = seed_ops_requests()
        if ops_requests:
            comments = sum(len(r.commented) for r in triaged.results)
            self.stderr.write(f"CS Ops requests: {ops_requests} filed, triaged and worked over six weeks; "
                              f"the triage policies ran once ({comments} comments)")
        if changes := seed_changes():
            self.stderr.write(f"Configuration change requests: {changes} (applied, in review, changes asked)")
        if events := seed_events():
            self.stderr.write(f"Webinars and labs: {events} events, with DRIs, registrations and lab codes")
        if snapshots := seed_arr_history():
            self.stderr.write(f"ARR history: {snapshots:,} monthly snapshots (/renewals/retention/)")
        if renewals := seed_renewal_history():
            self.stderr.write(f"Renewal history: {renewals:,} closed renewals with the health, sentiment and "
                              "meetings before them (/renewals/forecast/)")
        if worked := seed_pipeline():
            self.stderr.write(f"Renewal pipeline: {worked:,} open renewals worked, with risk "
                              "updates, DRIs and next steps (/renewals/)")
        opened, reminded = seed_handoffs()
        if opened:
            self.stderr.write(f"Sales→CS handoffs: {opened} opened for the last 30 days' wins, with "
                              f"onboarding CTAs; {reminded} AE reminder(s) of missing fields "
                              "(/renewals/handoffs/)")
        if processes := seed_processes():
            self.stderr.write(f"Core responsibilities: {processes} processes, with months of status history")
        backdated, closed = seed_cta_history()
        if backdated or closed:
            self.stderr.write(f"CTA history: {backdated:,} CTAs backdated over the last 90 days, {closed:,} "
                              "closed by their owners, onboarding tasks done (/reports/ctas/, "
                              "/reports/time-to-value/)")
        if subscriptions := seed_report_subscriptions():
            self.stderr.write(f"Report subscriptions: {subscriptions} (a leader weekly to the health "
                              "distribution, the admin monthly to the CTAs; /reports/subscriptions/)")
        self.sandbox()
        self.stdout.write(self.style.SUCCESS("\ncsops demo is ready."))
        self.stdout.write(f"Open http://127.0.0.1:{port}/ and log in as one of (password {password}):")
        for username, description in logins:
            self.stdout.write(f"  {username:10} {description}")
        if catching:
            self.stdout.write(f"Emails go to the mail catcher on 127.0.0.1:{settings.EMAIL_PORT}: "
                              f"{settings.DATA_DIR / 'mail'}/*.eml, and /programs/outbox/")
        self.stdout.write("")

    def configure(self) -> None:
        """The default configuration, once: later changes are change requests, which a re-run of
        the demo must not undo behind the reviewers' backs."""
        if not ConfigChange.objects.exists():
            result = apply_configuration(default_directory(), message="Default configuration")
            self.stderr.write(f"Default configuration: {result.summary()}")
            return
        differing = len(apply_configuration(default_directory(), dry_run=True).diffs)
        if differing:
            self.stderr.write(
                f"Configuration: {differing} object(s) differ from the defaults (changed since, or new "
                "defaults); left as they are. `csops config plan src/csops/defaults` lists them, "
                "`csops config apply src/csops/defaults -m WHY --as admin` proposes them."
            )

    def sandbox(self) -> None:
        """A local EC2 (moto) for the sandbox cleanup, alive as long as the demo: seeded with a test
        account and its past runs, cleaned by the worker's daily sandbox-clean. Without moto, no AWS
        credentials reach the demo, so its worker never cleans a real account."""
        try:
            sandbox_demo.start_local_ec2()
        except sandbox_demo.Unavailable as exc:
            sandbox_demo.isolate_from_aws()
            self.stderr.write(f"Sandbox: demo skipped, {exc}; the daily sandbox-clean does nothing here")
            return
        self.stderr.write(f"Sandbox: {sandbox_demo.seed_sandbox()}")

    def catch_mail(self):
        """With the default SMTP server (loopback), run the demo's own mail catcher there."""
        if settings.EMAIL_HOST not in ("127.0.0.1", "localhost"):
            return None
        catcher = mailcatcher.start(settings.DATA_DIR / "mail", port=settings.EMAIL_PORT)
        if catcher is None:
            self.stderr.write(self.style.WARNING(
                f"Something already listens on 127.0.0.1:{settings.EMAIL_PORT}, so the demo's mail catcher "
                "is not started and emails go to that server. Set CSOPS_SMTP_PORT to another port to "
                "catch them here."
            ))
        return catcher

    def run_rules(self) -> None:
        """The rule pack raises the demo's CTAs; a backtest replays one rule over the scored dates."""
        try:
            call_command("rules", "run", stdout=self.stderr, stderr=self.stderr)
        except CommandError as exc:
            self.stderr.write(self.style.WARNING(f"Rules: {exc} (see /rules/runs/)"))
        if not RuleBacktest.objects.exists():
            call_command("rules", "backtest", "--rule", "Product health drop", "--days", "85", "--step", "28",
                         stdout=self.stderr, stderr=self.stderr)
