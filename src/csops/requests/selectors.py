"""Reads for the request pages and the API: the board in a fixed number of queries whatever the
number of requests, a request's page, and each lead's weekly triage list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import NoReverseMatch
from django.utils import timezone

from csops.core.calendar import business_today
from csops.core.models import Role, User
from csops.requests.actions import CLOSED_STATES, is_manager, moves_for
from csops.requests.models import (
    OpsRequest,
    RequestComment,
    RequestTransition,
    State,
    TriagePolicy,
    Workstream,
)
from csops.requests.triage import _start_of

CARDS_PER_COLUMN = 100  # more in a column: the board says how many and links to the list
CLOSED_DAYS = 30  # the closed columns show what closed in the last 30 days unless asked otherwise
STALE_DAYS = 7  # Need_More_Info this long is stale, unless a triage policy says otherwise


def requests() -> QuerySet[OpsRequest]:
    """Requests with what a card or a list row shows."""
    return OpsRequest.objects.select_related("workstream", "assignee", "requester", "milestone")


def people() -> QuerySet[User]:
    """Who may be assigned or review: active people of the CS Ops and CS teams."""
    return User.objects.filter(is_active=True, is_pool=False, role__in=[Role.ADMIN, Role.CSM]).order_by(
        "first_name", "last_name", "username"
    )


# --- the board ------------------------------------------------------------------------------------------


@dataclass
class Card:
    request: OpsRequest
    moves: list[State]  # where the viewer may move it, in the table's order
    age_days: int  # since it was filed
    in_label_days: int  # since it took its workflow label


@dataclass
class Column:
    state: State
    cards: list[Card] = field(default_factory=list)
    count: int = 0

    @property
    def closed(self) -> bool:
        return self.state in CLOSED_STATES

    @property
    def hidden(self) -> int:
        return self.count - len(self.cards)


def card(request: OpsRequest, viewer: User, now: dt.datetime | None = None) -> Card:
    now = now or timezone.now()
    return Card(
        request,
        [] if request.is_closed else moves_for(viewer, request),
        (now - request.created_at).days,
        (now - request.state_changed_at).days,
    )


def board(filtered: QuerySet[OpsRequest], viewer: User) -> list[Column]:
    """One column per workflow label, in the table's order: two queries (the counts, then at most
    CARDS_PER_COLUMN cards of each column, most urgent first; the closed ones latest first)."""
    columns = {state: Column(state) for state in State}
    for row in filtered.order_by().values("state").annotate(n=Count("pk")):
        columns[State(row["state"])].count = row["n"]
    ranked = filtered.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("state")],
            order_by=[
                F("closed_at").desc(nulls_last=True),
                F("due_date").asc(nulls_last=True),
                F("pk").asc(),
            ],
        )
    ).filter(rank__lte=CARDS_PER_COLUMN)
    now = timezone.now()
    for request in ranked.order_by("rank"):
        columns[State(request.state)].cards.append(card(request, viewer, now))
    return list(columns.values())


# --- a request's page ----------------------------------------------------------------------------------


def request_page(pk: int) -> OpsRequest:
    found = (
        OpsRequest.objects.select_related(
            "workstream__lead", "assignee", "reviewer", "requester", "milestone", "epic"
        )
        .prefetch_related(
            "extra_labels",
            Prefetch("transitions", RequestTransition.objects.select_related("actor")),
            Prefetch("comments", RequestComment.objects.select_related("author")),
        )
        .get(pk=pk)
    )
    if hasattr(found, "change_requests"):  # the governance app's change requests, when installed
        found.linked_changes = [(c, _url(c)) for c in found.change_requests.order_by("number")]
    return found


def _url(obj) -> str:
    try:
        return obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
    except NoReverseMatch:  # its pages are not routed (yet)
        return ""


# --- the weekly triage list --------------------------------------------------------------------------


def stale_days() -> int:
    """The Need_More_Info nudge's age when such a policy is configured, else STALE_DAYS."""
    policy = (
        TriagePolicy.objects.filter(enabled=True, state=State.NEED_MORE_INFO, older_than_days__isnull=False)
        .order_by("older_than_days")
        .first()
    )
    return policy.older_than_days if policy else STALE_DAYS


@dataclass
class TriageList:
    workstreams: list[Workstream]
    stale_days: int
    unrouted: list[OpsRequest]  # new, no workstream yet: any lead may take one into theirs
    new: list[OpsRequest]
    stale: list[OpsRequest]
    blocked: list[OpsRequest]

    @property
    def total(self) -> int:
        return len(self.unrouted) + len(self.new) + len(self.stale) + len(self.blocked)


def leads() -> QuerySet[User]:
    return User.objects.filter(led_workstreams__isnull=False).distinct().order_by("first_name", "username")


def triage_list(workstreams: list[Workstream], today: dt.date | None = None) -> TriageList:
    today = today or business_today()
    days = stale_days()
    mine = requests().filter(workstream__in=workstreams).order_by("state_changed_at", "pk")
    # Counted as the nudge counts: in the label since before the start of the day N - 1 days ago.
    cutoff = _start_of(today - dt.timedelta(days=days - 1))
    return TriageList(
        workstreams=workstreams,
        stale_days=days,
        unrouted=list(
            requests().filter(state=State.TRIAGE, workstream__isnull=True).order_by("created_at", "pk")
        ),
        new=list(mine.filter(state=State.TRIAGE)),
        stale=list(mine.filter(state=State.NEED_MORE_INFO, state_changed_at__lt=cutoff)),
        blocked=list(mine.filter(state=State.BLOCKED)),
    )


def workstreams_triaged_by(user: User) -> QuerySet[Workstream]:
    """The workstreams whose new requests `user` triages: those they lead; every one for an admin."""
    if is_manager(user):
        return Workstream.objects.all()
    return Workstream.objects.filter(lead=user)
