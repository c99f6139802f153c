from django_tasks import task

from csops.rules import actions


@task()
def run_rules(names: list[str]) -> dict:
    """A scheduled run of the rules due at this time."""
    run = actions.run_rules(names=names, trigger="schedule")
    return {"run": run.pk, "seconds": run.seconds}


@task()
def evaluate_pending() -> dict:
    """Re-score and re-evaluate the accounts whose data changed since they were last evaluated."""
    return actions.evaluate_pending()
