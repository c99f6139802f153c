from django_tasks import task

from csops.health.actions import score_accounts


@task()
def score() -> dict:
    """The daily health scoring run."""
    run = score_accounts()
    return {"accounts": run.accounts, "changed": run.changed, "seconds": run.seconds}
