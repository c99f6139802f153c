"""The requests' scheduled jobs (schedules.yaml)."""

from django_tasks import task

from csops.requests import gitlab
from csops.requests.triage import run_triage


@task()
def sync_gitlab() -> str:
    """The GitLab mirror, when configured (else a no-op saying so)."""
    if not gitlab.configured():
        return "GitLab sync not configured: skipped"
    return gitlab.sync().summary()


@task()
def run_triage_policies() -> str:
    """The triage policies (triage_policies.yaml): each comments at most once per request a day."""
    return run_triage().text()
