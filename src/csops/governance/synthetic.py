"""Demo change requests: made by the demo's admin, reviewed by its second admin, so the changelog,
an open review with its impact preview, and a request for changes are there to see."""

from __future__ import annotations

import copy

from csops.core.configuration import REGISTRY, dump_object
from csops.core.models import User
from csops.governance import actions
from csops.governance.models import ChangeRequest, Verdict
from csops.requests.models import OpsRequest

APPLIED_TITLE = "Large opportunity: say what the CTA is for"


def _edited(kind: str, key: str, **changes) -> list:
    current = dump_object(REGISTRY[kind], REGISTRY[kind].model.objects.get(**{REGISTRY[kind].key: key}))
    return [actions.object_diff(kind, key, {**copy.deepcopy(current), **changes})]


def seed_changes(author_name: str = "admin", reviewer_name: str = "reviewer") -> int:
    """Four change requests (none when there are some already); returns how many were made."""
    if ChangeRequest.objects.filter(title=APPLIED_TITLE).exists():
        return 0
    author = User.objects.filter(username=author_name).first()
    reviewer = User.objects.filter(username=reviewer_name).first()
    if author is None or reviewer is None:
        return 0
    request = OpsRequest.objects.filter(workstream__name="Gainsight").order_by("pk").first()
    tasks = dump_object(REGISTRY["playbooks"], REGISTRY["playbooks"].model.objects.get(name="Account Triage"))
    tasks = tasks["tasks"] + [{"name": "Tell the account's AE what the plan is", "due_in_days": 7}]
    actions.propose(
        _edited("playbooks", "Account Triage", tasks=tasks),
        author=author,
        title="Account Triage: tell the AE the plan",
        why="AEs heard of red accounts from the customer first (CS Ops retro).",
        ops_request=request,
        source="demo",
    )
    applied = actions.propose(
        _edited(
            "rules",
            "Large opportunity",
            description="An open opportunity worth more than $50,000 "
            "of net ARR: the CSM and CSE help the AE shape it.",
        ),
        author=author,
        title=APPLIED_TITLE,
        why="CSMs asked what the Expansion CTA expects of them.",
        ops_request=request,
        source="demo",
    )
    actions.review(applied, reviewer=reviewer, verdict=Verdict.APPROVE, body="Wording only: no impact.")
    when = ["csm_assigned or csm_pool", "open_opportunity_max_arr > 25000"]
    lower = _edited("rules", "Large opportunity", when=when)
    open_change = actions.propose(
        lower,
        author=author,
        title="Large opportunity: from $25,000",
        why="Growth accounts' expansions are mostly $25-50k and get no CTA today.",
        ops_request=request,
        source="demo",
    )
    actions.preview_impact(open_change)  # the worker would too, from the queue
    ceiling = _edited("segments", "Scale", description="Scale: pooled CSEs; ceiling under review.")
    asked = actions.propose(
        ceiling,
        author=author,
        title="Scale: note the ceiling review",
        why="Leadership is reviewing the Scale ARR ceiling.",
        source="demo",
    )
    actions.review(
        asked,
        reviewer=reviewer,
        verdict=Verdict.REQUEST_CHANGES,
        body="Say which numbers are under review, and link the request.",
    )
    return 4
