from django_tasks import task

from csops.core.models import User
from csops.rules import actions
from csops.rules.backtest import backtest_rule
from csops.rules.models import Rule, Trigger


def _user(actor_id: int | None) -> User | None:
    return User.objects.filter(pk=actor_id).first() if actor_id else None


@task()
def run_rules(names: list[str], dry_run: bool = False, actor_id: int | None = None) -> dict:
    """A run of some rules: the ones due at this time (scheduled), or those someone asked for."""
    run = actions.run_rules(
        names=names,
        dry_run=dry_run,
        trigger=Trigger.MANUAL if actor_id else Trigger.SCHEDULE,
        actor=_user(actor_id),
    )
    return {"run": run.pk, "seconds": run.seconds}


@task()
def evaluate_pending() -> dict:
    """Re-score and re-evaluate the accounts whose data changed since they were last evaluated."""
    return actions.evaluate_pending()


@task()
def backtest(rule: str, days: int, step_days: int, actor_id: int | None = None) -> dict:
    report = backtest_rule(
        Rule.objects.get(name=rule),
        days=days,
        step_days=step_days,
        as_of=actions.business_today(),
        actor=_user(actor_id),
    )
    return {"backtest": report.pk, "seconds": report.seconds}
