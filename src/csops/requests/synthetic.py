"""Demo CS Ops requests: the CS Ops team leads its workstreams (as configuration), and about 25
requests are filed, triaged and worked over the last six weeks through the same actions a person
uses, each step at its own day (the clock is set back while it runs), so the board, the weekly
triage list and the triage policies have a realistic history to show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.utils import timezone

from csops.core.configuration import REGISTRY, dump_object
from csops.core.models import Role, User
from csops.requests import actions
from csops.requests.models import OpsRequest, State, Workstream
from csops.requests.triage import TriageReport, run_triage

# The CS Ops team: username, first and last name, the workstream they lead (None: no workstream).
TEAM = [
    ("ops.lena", "Lena", "Fischer", "Gainsight"),
    ("ops.samir", "Samir", "Haddad", "Scale"),
    ("ops.dara", "Dara", "Okafor", "Digital"),
    ("ops.rui", "Rui", "Costa", "Renewal Ops"),
    ("ops.tess", "Tess", "Nguyen", "Technical Writing"),
    ("ops.ana", "Ana", "Lima", "Analytics"),
    ("ops.wes", "Wes", "Park", None),  # the Gainsight admin: builds, and reviews others' rules
]
# Who files: the demo logins and a few of the seeded people, whoever exists.
REQUESTERS = ["csm.amer.1", "ae.amer.1", "cs-manager.amer", "csm.emea.1", "cse.amer.1", "renewals.amer.1"]
DONE = {
    "documentation_updated": True,
    "changelog_entry": "Gainsight changelog, this week's entry",
    "stakeholders_notified": True,
    "lead_notified": True,
}


@dataclass
class Story:
    """One request: filed `filed` days ago, then each step `(days after filing, verb, arguments)`."""

    title: str
    description: str
    requester_label: str = ""
    team_label: str = "CSOps"
    named: str | None = None  # the workstream the requester names at intake
    filed: int = 0
    steps: list[tuple[int, str, dict]] = field(default_factory=list)


def _triage(workstream: str, to: State = State.READY_FOR_ASSIGNMENT, **more) -> tuple[str, dict]:
    return "triage", {"workstream": workstream, "to": to, **more}


def _walk(*states: State, **more) -> list[tuple[str, dict]]:
    return [("move", {"to": s, **more}) for s in states]


IN, AF = State.IN_PROCESS, State.AWAITING_FEEDBACK
STORIES = [
    Story(
        "Add the renewal date to the Upcoming Renewal CTA",
        "The CTA should show the renewal date so CSMs do not open the opportunity.",
        "CSM",
        "Gainsight",
        filed=34,
        steps=[
            (1, *_triage("Gainsight", assignee="ops.wes", weight=3, needs_peer_review=True)),
            (2, "move", {"to": IN}),
            (
                5,
                "move",
                {"to": AF, "reviewer": "ops.lena", "summary": "Field added to the CTA layout and rule."},
            ),
            (6, "checklist", DONE),
            (7, "review", {}),
            (7, "move", {"to": State.COMPLETED, "note": "Shipped"}),
        ],
    ),
    Story(
        "Merge the two low licence utilization rules",
        "Two rules raise the same CTA for Scale and Growth; one rule with a segment condition is enough.",
        "CSM-Ops",
        "Gainsight",
        filed=16,
        steps=[
            (0, *_triage("Gainsight", assignee="ops.wes", weight=5, needs_peer_review=True)),
            (1, "move", {"to": IN}),
            (
                9,
                "move",
                {"to": AF, "reviewer": "ops.lena", "summary": "One rule, segment in (Scale, Growth)."},
            ),
            (
                9,
                "comment",
                {"by": "assignee", "body": "Ready for peer review: the dry run raised the same CTAs."},
            ),
        ],
    ),
    Story(
        "Success plan objectives do not save",
        "Saving an objective with a due date in the past fails silently.",
        "CSM",
        "Gainsight: Bug",
        "Gainsight",
        filed=6,
        steps=[(0, *_triage("Gainsight", assignee="ops.wes", weight=3)), (1, "move", {"to": IN})],
    ),
    Story(
        "New connector job for product usage",
        "Load the weekly usage export for self-managed instances.",
        "Ops",
        filed=5,
        steps=[(1, *_triage("Gainsight", assignee="ops.lena", milestone=True)), (2, "move", {"to": IN})],
    ),
    Story(
        "Remove unused fields from the Company object",
        "Twelve fields have not been filled since the migration.",
        "Ops",
        filed=21,
        steps=[
            (2, *_triage("Gainsight", assignee="ops.wes", weight=3, needs_peer_review=True)),
            (3, "move", {"to": IN}),
            (6, "move", {"to": State.BLOCKED, "note": "Waiting for Sales Ops to confirm two of the fields."}),
        ],
    ),
    Story(
        "Dashboard of CTA ageing per CSM",
        "Managers want to see open CTAs by age bucket for their team.",
        "Growth",
        filed=4,
        steps=[(1, *_triage("Gainsight", weight=5))],
    ),
    Story(
        "How do I snooze a CTA for a month?",
        "Asked in #gainsight-users.",
        "Slack-Questions",
        filed=12,
        steps=[
            (1, *_triage("Gainsight", to=State.WONT_DO, note="Answered in Slack; nothing to build.")),
            (1, "comment", {"by": "lead", "body": "Answered in Slack: snooze with a date and a reason."}),
        ],
    ),
    Story(
        "Rebalance the TAM Scale pool by geo",
        "EMEA CSEs carry twice the accounts of APJ.",
        "Scale",
        named="Scale",
        filed=13,
        steps=[(1, *_triage("Scale", assignee="ops.samir", weight=5)), (2, "move", {"to": IN})],
    ),
    Story(
        "Calendly links of the Scale CSEs per geo",
        "The 21 day check-in should carry the Calendly link of the CSE for the account's geo.",
        "Scale",
        filed=15,
        steps=[(1, *_triage("Scale", to=State.NEED_MORE_INFO, note="Which geos have more than one CSE?"))],
    ),
    Story(
        "Playbook for Scale NPS detractors",
        "A detractor in Scale should get a call within a week.",
        "Scale",
        filed=9,
        steps=[(2, *_triage("Scale", to=State.UNASSIGNED, note="Agreed; no capacity this milestone."))],
    ),
    Story(
        "Quarterly CSAT for the Scale segment",
        "Send the quarterly CSAT survey to Scale accounts too.",
        "Scale",
        filed=25,
        steps=[(3, *_triage("Scale", to=State.BACKLOG, note="Next quarter: not in the next 90 days."))],
    ),
    Story(
        "New copy for the 21 day check-in email",
        "The copy still names last year's webinar series.",
        "Ops",
        "CS Programs",
        filed=18,
        steps=[
            (1, *_triage("Digital", assignee="ops.dara", weight=1)),
            (2, "move", {"to": State.MONITORING, "note": "Transferred to Marketing Ops, who own the copy."}),
        ],
    ),
    Story(
        "Add a DevSecOps step to the onboarding series",
        "Day 35-40: the security enablement email.",
        "All Segments",
        "CS Programs",
        filed=8,
        steps=[
            (1, *_triage("Digital", assignee="ops.dara", weight=3, milestone=True)),
            (2, "move", {"to": IN}),
        ],
    ),
    Story(
        "A/B test the CI product coach subject lines",
        "Open rates dropped after the last change.",
        "Ops",
        filed=4,
        steps=[(1, *_triage("Digital", to=State.NEED_MORE_INFO, note="What open rate do we aim for?"))],
    ),
    Story(
        "Survey page in Japanese",
        "APJ customers answer less; a Japanese page would help.",
        "Growth",
        named="Digital",
        filed=1,
    ),
    Story(
        "Renewal risk report by segment",
        "Renewals in the next two quarters with their risk reasons, by segment.",
        "Strategic",
        "CS RenewalOps",
        filed=14,
        steps=[
            (1, *_triage("Renewal Ops", assignee="ops.rui", weight=5)),
            (2, "move", {"to": IN}),
            (
                8,
                "move",
                {"to": AF, "reviewer": "ops.ana", "summary": "Report built from the renewal pipeline."},
            ),
        ],
    ),
    Story(
        "Clean up the forecast categories",
        "Omitted and Pipeline are mixed up on old opportunities.",
        "Ops",
        "CS RenewalOps",
        filed=27,
        steps=[
            (1, *_triage("Renewal Ops", assignee="ops.rui", weight=3)),
            (2, "move", {"to": IN}),
            (4, "checklist", DONE),
            (5, "move", {"to": State.COMPLETED}),
        ],
    ),
    Story(
        "Renewal playbook for multi-year deals",
        "Multi-year renewals need their own timeline.",
        "Strategic",
        filed=3,
        steps=[(1, *_triage("Renewal Ops", weight=3))],
    ),
    Story(
        "Handbook page for the CS Ops request process",
        "Describe the labels, weights and the closing checklist.",
        "Ops",
        "CS Ops Technical Writing",
        filed=7,
        steps=[(0, *_triage("Technical Writing", assignee="ops.tess", weight=1)), (1, "move", {"to": IN})],
    ),
    Story(
        "Document the health score overrides",
        "When CSM Sentiment overrides the colour, and why.",
        "CSM",
        "CS Ops Technical Writing",
        filed=30,
        steps=[(4, *_triage("Technical Writing", to=State.BACKLOG, note="After the scorecard review."))],
    ),
    Story(
        "Platform adoption score by ARR band",
        "Share of ARR with 0, 1, 2 and 3+ green use cases, per segment.",
        "Priority",
        "CS Analytics",
        filed=11,
        steps=[(1, *_triage("Analytics", assignee="ops.ana", weight=7)), (2, "move", {"to": IN})],
    ),
    Story(
        "Usage data gaps for self-managed instances",
        "A fifth of self-managed instances send no usage ping.",
        "CSM",
        "CS Product Usage Reporting",
        filed=19,
        steps=[
            (1, *_triage("Analytics", assignee="ops.ana", weight=5)),
            (2, "move", {"to": IN}),
            (5, "move", {"to": State.BLOCKED, "note": "Needs the product team's telemetry change."}),
        ],
    ),
    Story(
        "Export of the CTAs closed as Not a Priority",
        "For the quarterly review of what we chose not to do.",
        "CSM",
        filed=2,
    ),
    Story(
        "A PubSec view of the health dashboard",
        "PubSec accounts are handled separately and should not mix with Strategic.",
        "PubSec",
        filed=0,
    ),
    Story(
        "Bulk snooze of CTAs",
        "Snooze all of an account's CTAs during a customer freeze.",
        "CSM",
        "Gainsight: Feature Request",
        "Gainsight",
        filed=1,
    ),
]


@contextmanager
def _clock(moment: dt.datetime) -> Iterator[None]:
    """Every action inside runs as if it were `moment` (its timestamps, its business day)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def team() -> dict[str, User]:
    people = {}
    for username, first, last, _ in TEAM:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "role": Role.CSM,
                "function": "cs_ops",
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        people[username] = user
    return people


def lead_workstreams() -> None:
    """The team leads its workstreams: one configuration change request by the first admin (review
    of workstreams is optional, so it applies at once); nothing once the workstreams have leads."""
    from csops.governance import actions as governance

    if Workstream.objects.filter(lead__isnull=False).exists():
        return
    admin = User.objects.filter(role=Role.ADMIN, is_active=True, is_pool=False).order_by("pk").first()
    leads = {workstream: username for username, _, _, workstream in TEAM if workstream}
    diffs = []
    for workstream in Workstream.objects.filter(name__in=leads):
        definition = dump_object(REGISTRY["workstreams"], workstream)
        diffs.append(
            governance.object_diff(
                "workstreams", workstream.name, {**definition, "lead": leads[workstream.name]}
            )
        )
    governance.propose(
        diffs,
        author=admin,
        title="The CS Ops team leads its workstreams",
        why="Demo: each workstream's lead triages its new requests weekly (seed 000).",
    )


def _tell(request: OpsRequest, verb: str, args: dict, people: dict[str, User], milestone) -> OpsRequest:
    request.refresh_from_db()
    lead = request.workstream.lead if request.workstream_id else None
    if verb == "triage":
        workstream = Workstream.objects.get(name=args["workstream"])
        return actions.triage(
            request,
            actor=workstream.lead,
            workstream=workstream,
            to=args.get("to", State.READY_FOR_ASSIGNMENT),
            assignee=people.get(args.get("assignee", "")),
            weight=args.get("weight"),
            milestone=milestone if args.get("milestone") else None,
            needs_peer_review=args.get("needs_peer_review"),
            note=args.get("note", ""),
            source="demo",
        )
    if verb == "move":
        to = args["to"]
        actor = lead if to in actions.LEAD_DECISIONS else request.assignee
        return actions.move(
            request,
            to,
            actor=actor,
            note=args.get("note", ""),
            reviewer=people.get(args.get("reviewer", "")),
            resolution_summary=args.get("summary", ""),
            source="demo",
        )
    if verb == "checklist":
        return actions.update_checklist(request, actor=request.assignee, source="demo", **args)
    if verb == "review":
        return actions.update_checklist(request, actor=request.reviewer, peer_review_done=True, source="demo")
    if verb == "comment":
        author = {"lead": lead, "assignee": request.assignee}.get(args["by"], request.requester)
        actions.add_comment(request, actor=author, body=args["body"], source="demo")
        return request
    raise ValueError(f"unknown demo step {verb!r}")


def seed_ops_requests() -> tuple[int, TriageReport | None]:
    """The team and its leads (each run: the default configuration has no leads), then the stories
    once; then the triage policies run, as their schedule would. Returns (requests filed, report)."""
    people = team()
    lead_workstreams()
    if OpsRequest.objects.exists():
        return 0, None
    now = timezone.now()
    requesters = list(User.objects.filter(username__in=REQUESTERS, is_active=True).order_by("username"))
    requesters = requesters or list(people.values())
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first() or people["ops.lena"]
    with _clock(now - dt.timedelta(days=40)):
        actions.create_milestone(
            actor=admin,
            title="Previous milestone",
            start=(now - dt.timedelta(days=42)).date(),
            due=(now - dt.timedelta(days=15)).date(),
            source="demo",
        )
        current = actions.create_milestone(
            actor=admin,
            title="Current milestone",
            start=(now - dt.timedelta(days=14)).date(),
            due=(now + dt.timedelta(days=13)).date(),
            source="demo",
        )
    for index, story in enumerate(STORIES):
        filed_at = now - dt.timedelta(days=story.filed, hours=index % 5)
        workstream = Workstream.objects.get(name=story.named) if story.named else None
        with _clock(filed_at):
            request = actions.file_request(
                actor=requesters[index % len(requesters)],
                title=story.title,
                description=story.description,
                requester_label=story.requester_label,
                team_label=story.team_label,
                workstream=workstream,
                source="demo",
            )
        for days, verb, args in story.steps:
            with _clock(min(filed_at + dt.timedelta(days=days, hours=2), now)):
                request = _tell(request, verb, args, people, current)
    return len(STORIES), run_triage()
