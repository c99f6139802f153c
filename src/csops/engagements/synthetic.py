"""Demo CSE engagement requests: filed by the accounts' owners through the same actions a person
uses, raised by the batch, and worked at different stages, so every page has something to show."""

from __future__ import annotations

from django.db.models import Q

from csops.customers.models import Account
from csops.engagements import actions
from csops.engagements.models import EngagementRequest

TOPICS = [
    ("CI pipelines for a new team", ["onboarding"], "ci", "adoption", "saas"),
    ("Unused seats after the last true-up", ["license_utilization"], "scm", "contraction", "self_managed"),
    ("Evaluating a competitor's security scanning", ["competitive_risk"], "devsecops", "competitive", "saas"),
    ("Moving deployments off a legacy tool", ["onboarding", "adoption"], "cd", "churn", "dedicated"),
    ("Planning boards for the PMO", ["enablement"], "agile", "none", "saas"),
    ("Runner fleet sizing", ["adoption"], "ci", "none", "self_managed"),
]


def seed_requests(count: int = 6) -> int:
    """File requests for eligible accounts, run the batch, then log calls, send follow-ups and
    record a question on some of them. Returns how many requests were filed."""
    if EngagementRequest.objects.exists():
        return 0
    rules = actions.policy()
    accounts = list(
        Account.objects.filter(
            csm__username=rules.pool, arr__gte=rules.min_arr, arr__lte=rules.max_arr or 10**12,
            ae__isnull=False, contacts__email__gt="",
        )
        .filter(Q(contacts__email_opt_out=False))
        .distinct()
        .order_by("pk")[:count]
    )
    requests = []
    for account, (topic, interventions, use_case, risk, environment) in zip(accounts, TOPICS, strict=False):
        requests.append(
            actions.file_request(
                account, actor=account.ae, contact=account.contacts.filter(email__gt="").first(), topic=topic,
                interventions=interventions, primary_use_case=use_case, risk_type=risk,
                environment=environment, priority="high" if risk in ("churn", "competitive") else "medium",
                challenges=f"{account.name} asked their AE for help: {topic.lower()}.",
                opt_out_outreach=len(requests) == 4, source="demo",
            )
        )
    actions.convert_requests()
    today = actions.business_today()
    for index, request in enumerate(requests[:4]):
        request.refresh_from_db()
        if request.cse is None:
            continue
        actions.log_call(request, actor=request.cse, date=today, notes="Demo call", source="demo")
        request.refresh_from_db()
        if index < 2:
            actions.send_follow_up(
                request, actor=request.cse, contacts=[request.contact],
                summary=f"We walked through {request.topic.lower()}.",
                action_items="- Try the recommended setup with one team\n- Tell us how it went",
                resources="- https://docs.example.com/", source="demo",
            )
        if index == 0:
            request.refresh_from_db()
            actions.record_question(
                request, actor=request.cse, asked_on=today, question="Can runners autoscale?", source="demo"
            )
    seed_escalations(requests)
    return len(requests)


def seed_escalations(requests: list[EngagementRequest]) -> None:
    """A support escalation on an open ticket and an account escalation, filed by the CSE; when an
    account misses a criterion the CSE overrides it, with the reason, as a person would."""
    from csops.engagements import escalations

    for request in requests[:2]:
        request.refresh_from_db()
        account, cse = request.account, request.cse
        if cse is None:
            continue
        ticket = account.tickets.filter(closed_at__isnull=True).order_by("opened_at").first()
        missed = [c.name for c in escalations.qualification(account, actions.business_today()) if not c.met]
        escalations.file_escalation(
            account, actor=cse,
            kind="support" if ticket else "account",
            ticket=ticket,
            issue="" if ticket else "churn",
            severity="high" if ticket else "critical",
            title=f"{account.name}: {ticket.subject if ticket else 'evaluating another vendor'}"[:200],
            override_reason=f"Strategic expansion at risk ({', '.join(missed)} not met)" if missed else "",
            source="demo",
        )
