from django.core.management.base import BaseCommand, CommandError

from csops.requests import gitlab
from csops.requests.triage import run_triage


class Command(BaseCommand):
    help = (
        "CS Ops requests: `sync-gitlab [--dry-run]` mirrors the requests with the issues of the GitLab "
        "project (CSOPS_GITLAB_URL, CSOPS_GITLAB_TOKEN, CSOPS_GITLAB_PROJECT): pulls new and relabelled "
        "issues, then pushes changed requests. `triage` applies the triage policies now and prints "
        "their report."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["sync-gitlab", "triage"])
        parser.add_argument("--dry-run", action="store_true", help="Show what would happen; write nothing.")

    def handle(self, action, dry_run, **options):
        if action == "triage":  # the triage policies now, as the triage-policies schedule runs them
            self.stdout.write(run_triage().text())
            return
        try:
            report = gitlab.sync(dry_run=dry_run)
        except gitlab.GitLabSyncError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(f"  {line}")
        self.stdout.write(report.summary())
