"""The demo's core responsibilities tracker: the default processes (seeds 000, 003), owned by the
CS Ops team, and a few months of status updates made through the same actions a person uses, so
the list, a process's history and the leadership report have reds, yellows and greens to show."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from csops.core.models import JobFunction, Role, User
from csops.governance import responsibilities as tracker
from csops.governance.models import CoreProcess, ProcessStatusChange, Rag

TEAM = (("csops.1", "Priya", "Raman"), ("csops.2", "Tomás", "Ferreira"), ("csops.3", "Grace", "Okafor"))
ADDED_DAYS_AGO = 120

# Process: [(days ago, status, reason, plan)], oldest first, after it was added green.
STORIES: dict[str, list[tuple[int, str, str, str]]] = {
    "CS KPIs": [
        (41, Rag.YELLOW, "Finance and CS count net retention differently (CS leaves out ramp deals).",
         "Compare both definitions account by account with Finance; propose one."),
        (12, Rag.RED, "The last QBR deck showed two net retention figures; leaders trust neither.",
         "One definition agreed with Finance by the month's end; the KPI dashboard rebuilt on it; "
         "every definition written in the handbook."),
    ],
    "Product analytics and renewal strategies": [
        (4, Rag.RED, "Usage data stopped for 140 self-managed accounts after the service ping change: "
                     "their product health is N/A.",
         "Back-fill from the instance exports this week; alert when an account's usage is quiet for 7 days."),
    ],
    "Documentation": [
        (63, Rag.RED, "Half of the CS Ops handbook pages are more than a year old.",
         "Rewrite two pages a week, reviewed by the technical writers."),
        (9, Rag.YELLOW, "8 of the 14 process pages are rewritten; 6 to go.",
         "Two pages a week, the technical writers reviewing; done in three weeks."),
    ],
    "Request intake and triage": [
        (6, Rag.YELLOW, "The Gainsight workstream has had no lead since the reorganisation: 17 requests "
                        "waited more than a week for triage.",
         "A lead named by Friday; until then the CS Ops admin triages them weekly."),
    ],
    "Renewal operations": [
        (33, Rag.YELLOW, "A third of the renewals managers do not set forecast categories.",
         "Enablement session at the next team call; a CTA when a renewal has none 60 days out."),
        (20, Rag.YELLOW, "A fifth of the renewals managers still do not set forecast categories.",
         "The CTA rule is live; a second session for EMEA and APJ."),
    ],
    "Operational reporting": [
        (52, Rag.YELLOW, "The CTA dashboard times out for the Strategic segment.",
         "Move it onto the pre-aggregated tables."),
        (15, Rag.GREEN, "", ""),
    ],
}


def _team() -> list[User]:
    people = []
    for username, first, last in TEAM:
        person, _ = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com",
                      "role": Role.VIEWER, "function": JobFunction.CS_OPS},
        )
        people.append(person)
    return people


@transaction.atomic
def seed_processes() -> int:
    """The default processes and their demo history; returns how many were added (0 when the
    tracker already has processes, so a second demo run changes nothing)."""
    if CoreProcess.objects.exists():
        return 0
    admin = User.objects.filter(role=Role.ADMIN, is_active=True, is_pool=False).order_by("pk").first()
    if admin is None:
        return 0
    team = [admin, *_team()]
    now = timezone.now()
    added = 0
    for index, (name, description) in enumerate(tracker.DEFAULT_PROCESSES):
        owner = team[index % len(team)]
        process = tracker.add_process(actor=admin, name=name, description=description, owner=owner,
                                      source="demo")
        added += 1
        changed_at = now - dt.timedelta(days=ADDED_DAYS_AGO)
        process.history.update(at=changed_at)
        for days_ago, status, reason, plan in STORIES.get(name, []):
            previous = process.status
            change = tracker.update_status(process, actor=owner, status=status, reason=reason, plan=plan,
                                           source="demo")
            process.refresh_from_db()
            # The demo plays months of updates at once; each is dated when it would have been made.
            when = now - dt.timedelta(days=days_ago)
            ProcessStatusChange.objects.filter(pk=change.pk).update(at=when)
            if status != previous:
                changed_at = when
        CoreProcess.objects.filter(pk=process.pk).update(status_changed_at=changed_at)
    return added
