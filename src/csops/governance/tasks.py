from django_tasks import task

from csops.governance import actions
from csops.governance.models import ChangeRequest


@task()
def preview_impact(number: int) -> dict:
    """Dry-run counts of a change request's rules; run by the worker, which owns the analytics store."""
    change = ChangeRequest.objects.filter(number=number).first()
    return {"rules": len(actions.preview_impact(change))} if change else {}
