"""CS Ops requests as seeds 000 and 001 run them: anyone files, the workstream lead triages, the
workflow labels move only along the explicit transition table, the owner asks a named peer for
feedback with a resolution summary, and a request completes only with its closing checklist.
Every rule is enforced here, for the pages, API and tasks alike."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csops.core.actions import create_object, update_object
from csops.core.calendar import business_today
from csops.core.models import User
from csops.core.permissions import has_perm
from csops.requests.models import (
    CLOSED_STATES,
    Epic,
    Milestone,
    OpsRequest,
    RequestComment,
    RequesterLabel,
    RequestTransition,
    State,
    TeamLabel,
    Weight,
    Workstream,
)

S = State
# The workflow: from each label, the labels a request may move to. Anything else is refused.
# Seed 000: at the weekly review the lead assigns (Ready_for_Assignment), asks for more information,
# agrees without capacity (Unassigned), transfers to another team (Monitoring), defers (Backlog) or
# declines (Won't Do). A deferred request comes back to Triage for a later review. A blocked request
# returns to where it was stopped, peer review included. Awaiting Feedback holds finished work: to
# drop it, it goes back to In_Process first (so no stale-request policy closes work under review).
TRANSITIONS: dict[State, tuple[State, ...]] = {
    S.TRIAGE: (S.READY_FOR_ASSIGNMENT, S.NEED_MORE_INFO, S.UNASSIGNED, S.MONITORING, S.BACKLOG, S.WONT_DO),
    S.READY_FOR_ASSIGNMENT: (
        S.NEED_MORE_INFO,
        S.UNASSIGNED,
        S.IN_PROCESS,
        S.MONITORING,
        S.BACKLOG,
        S.WONT_DO,
    ),
    S.NEED_MORE_INFO: (S.READY_FOR_ASSIGNMENT, S.UNASSIGNED, S.IN_PROCESS, S.BACKLOG, S.WONT_DO),
    S.UNASSIGNED: (S.READY_FOR_ASSIGNMENT, S.IN_PROCESS, S.BACKLOG, S.WONT_DO),
    S.IN_PROCESS: (
        S.NEED_MORE_INFO,
        S.AWAITING_FEEDBACK,
        S.BLOCKED,
        S.MONITORING,
        S.BACKLOG,
        S.WONT_DO,
        S.COMPLETED,
    ),
    S.AWAITING_FEEDBACK: (S.IN_PROCESS, S.BLOCKED, S.COMPLETED),
    S.BLOCKED: (S.NEED_MORE_INFO, S.IN_PROCESS, S.AWAITING_FEEDBACK, S.MONITORING, S.BACKLOG, S.WONT_DO),
    S.MONITORING: (S.IN_PROCESS, S.WONT_DO, S.COMPLETED),
    S.BACKLOG: (S.TRIAGE, S.READY_FOR_ASSIGNMENT, S.UNASSIGNED, S.IN_PROCESS, S.WONT_DO),
    S.WONT_DO: (),
    S.COMPLETED: (),
}
# The labels seed 000 gives the workstream lead to apply (or a CS Ops admin): leaving Triage is the
# lead's review too. The assignee applies the others.
LEAD_DECISIONS = frozenset({S.TRIAGE, S.UNASSIGNED, S.BACKLOG, S.WONT_DO})
CHECKLIST = {
    "documentation_updated": "Update the documentation and tick it.",
    "changelog_entry": "Link the changelog entry.",
    "peer_review_done": "This request changes a rule or data object: its peer review must be done.",
    "stakeholders_notified": "Tell the stakeholders and tick it.",
    "lead_notified": "Tell the workstream lead, with a summary, and tick it.",
}
TITLE_MAX = OpsRequest._meta.get_field("title").max_length


def allowed_moves(state: str) -> tuple[State, ...]:
    return TRANSITIONS[State(state)]


def transition_refusal(state: str, to: str) -> str:
    here, allowed = State(state).label, allowed_moves(state)
    if not allowed:
        return f"A {here} request is closed: it moves nowhere."
    names = ", ".join(s.label for s in allowed)
    prefix = f"A request does not move from {here} to {State(to).label}. " if to in State.values else ""
    return f"{prefix}From {here} a request moves to: {names}."


def is_manager(user: User | None) -> bool:
    return user is not None and has_perm(user, "manage_requests")


def _person(user: User | None, field: str, what: str, errors: dict[str, str]) -> None:
    if user is not None and (user.is_pool or not user.is_active):
        errors[field] = f"{user} is {'a pool' if user.is_pool else 'inactive'}: the {what} must be a person."


def _weight_problem(weight: int | None) -> str | None:
    if weight is None or weight in Weight.values:
        return None
    if isinstance(weight, int) and not isinstance(weight, bool) and weight > max(Weight.values):
        return f"A weight of {weight} is over a day's work: split it into an epic of requests (each 1 to 7)."
    return f"The weight is 1, 3, 5 or 7 ({', '.join(Weight.labels)}), not {weight!r}."


def _open(request: OpsRequest) -> None:
    if request.is_closed:
        raise ValidationError({"state": f"{request} is closed ({request.get_state_display()})."})


def _lead_id(request: OpsRequest) -> int | None:
    return request.workstream.lead_id if request.workstream_id else None


def is_lead(actor: User | None, request: OpsRequest) -> bool:
    """The request's workstream lead, or a CS Ops admin."""
    return actor is not None and (actor.pk == _lead_id(request) or is_manager(actor))


def may_work(actor: User | None, request: OpsRequest) -> bool:
    if actor is None or not actor.is_authenticated:
        return False
    return actor.pk in {request.assignee_id, request.reviewer_id} or is_lead(actor, request)


def may_move(actor: User | None, request: OpsRequest, to: str) -> bool:
    """Whether `actor` may make this move (the table aside): the lead's labels are the lead's."""
    if request.state == State.TRIAGE or to in LEAD_DECISIONS:
        return request.workstream_id is not None and is_lead(actor, request)
    return may_work(actor, request)


def moves_for(actor: User | None, request: OpsRequest) -> list[State]:
    """The labels `actor` may move the request to, in the table's order."""
    return [to for to in allowed_moves(request.state) if may_move(actor, request, to)]


def _may_work(actor: User, request: OpsRequest) -> None:
    if may_work(actor, request):
        return
    who = "the assignee, the reviewer, the workstream lead or a CS Ops admin"
    raise ValidationError({"actor": f"Only {who} works on {request}."})


def may_comment(actor: User | None, request: OpsRequest) -> bool:
    """The requester (to answer a question, say) and whoever works on the request."""
    return may_work(actor, request) or (actor is not None and actor.pk == request.requester_id)


# --- intake and triage ------------------------------------------------------------------------------


@transaction.atomic
def file_request(
    *,
    actor: User,
    title: str,
    description: str,
    requester_label: str = "",
    team_label: str = TeamLabel.CSOPS,
    workstream: Workstream | None = None,
    due_date: dt.date | None = None,
    today: dt.date | None = None,
    source: str = "web",
) -> OpsRequest:
    """Anyone files a request. It carries the team label (CSOps unless the requester knows better)
    and waits in Triage until its workstream lead triages it; a workstream the requester names only
    routes it to that lead's weekly review."""
    errors: dict[str, str] = {}
    if actor is None or not actor.is_authenticated or actor.is_pool or not actor.is_active:
        errors["requester"] = "A request is filed by a person who is signed in."
    title, description = (title or "").strip(), (description or "").strip()
    if not title:
        errors["title"] = "Give the request a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"A title has at most {TITLE_MAX} characters ({len(title)} given)."
    if not description:
        errors["description"] = "Say what is needed, for whom and by when."
    if requester_label and requester_label not in RequesterLabel.values:
        errors["requester_label"] = (
            f"Unknown requester label {requester_label!r}: one of {', '.join(RequesterLabel.values)}."
        )
    if team_label not in TeamLabel.values:
        errors["team_label"] = f"Unknown team label {team_label!r}: one of {', '.join(TeamLabel.values)}."
    if due_date is not None and due_date < (today or business_today()):
        errors["due_date"] = f"The due date {due_date:%Y-%m-%d} is in the past."
    if errors:
        raise ValidationError(errors)
    request = create_object(
        OpsRequest,
        actor=actor,
        source=source,
        title=title,
        description=description,
        requester=actor,
        requester_label=requester_label,
        team_label=team_label,
        workstream=workstream,
        due_date=due_date,
        state=State.TRIAGE,
        state_changed_at=timezone.now(),
    )
    _record_transition(request, "", State.TRIAGE, actor=actor, source=source)
    return request


@transaction.atomic
def triage(
    request: OpsRequest,
    *,
    actor: User,
    workstream: Workstream,
    to: str = State.READY_FOR_ASSIGNMENT,
    team_label: str | None = None,
    requester_label: str | None = None,
    weight: int | None = None,
    assignee: User | None = None,
    epic: Epic | None = None,
    milestone: Milestone | None = None,
    due_date: dt.date | None = None,
    needs_peer_review: bool | None = None,
    note: str = "",
    today: dt.date | None = None,
    source: str = "web",
) -> OpsRequest:
    """The workstream's lead (or a CS Ops admin) triages a new request: it joins the workstream,
    takes its labels and leaves Triage for `to`. `needs_peer_review`: it changes a rule or data
    object, so its peer review is part of the closing checklist."""
    request = OpsRequest.objects.select_for_update().get(pk=request.pk)
    _open(request)
    errors: dict[str, str] = {}
    if request.state != State.TRIAGE:
        errors["state"] = f"{request} was triaged already: it is {request.get_state_display()}."
    if workstream is None:
        errors["workstream"] = "Choose the workstream."
    elif actor.pk != workstream.lead_id and not is_manager(actor):
        lead = workstream.lead or "no lead yet: a CS Ops admin triages"
        errors["actor"] = f"Only the lead of {workstream} triages its requests ({lead})."
    if to not in TRANSITIONS[State.TRIAGE]:
        errors["state"] = transition_refusal(State.TRIAGE, to)
    if team_label is not None and team_label not in TeamLabel.values:
        errors["team_label"] = f"Unknown team label {team_label!r}: one of {', '.join(TeamLabel.values)}."
    if requester_label and requester_label not in RequesterLabel.values:
        errors["requester_label"] = f"Unknown requester label {requester_label!r}."
    if (problem := _weight_problem(weight)) is not None:
        errors["weight"] = problem
    _person(assignee, "assignee", "assignee", errors)
    if epic is not None and workstream is not None and epic.workstream_id != workstream.pk:
        errors["epic"] = f"The epic {epic} belongs to {epic.workstream}, not {workstream}."
    if errors:
        raise ValidationError(errors)
    fields = {"workstream": workstream}
    for name, value in (
        ("team_label", team_label),
        ("requester_label", requester_label),
        ("weight", weight),
        ("assignee", assignee),
        ("epic", epic),
        ("due_date", due_date),
        ("needs_peer_review", needs_peer_review),
    ):
        if value is not None:
            fields[name] = value
    if milestone is not None:
        fields |= _milestone_fields(milestone, today)
    update_object(request, actor=actor, source=source, **fields)
    return _move(request, to, actor=actor, note=note, source=source)


# --- the workflow ---------------------------------------------------------------------------------


@transaction.atomic
def move(
    request: OpsRequest,
    to: str,
    *,
    actor: User,
    note: str = "",
    reviewer: User | None = None,
    resolution_summary: str = "",
    source: str = "web",
) -> OpsRequest:
    """Move a request to another workflow label, along the transition table only."""
    request = OpsRequest.objects.select_for_update().get(pk=request.pk)
    _may_work(actor, request)
    if to in allowed_moves(request.state) and request.workstream_id and not may_move(actor, request, to):
        lead = request.workstream.lead if request.workstream_id else None
        decision = "triages" if request.state == State.TRIAGE else f"moves a request to {State(to).label}"
        raise ValidationError(
            {"actor": f"Only the workstream lead ({lead or 'none yet'}) or a CS Ops admin {decision}."}
        )
    return _move(
        request,
        to,
        actor=actor,
        note=note,
        reviewer=reviewer,
        resolution_summary=resolution_summary,
        source=source,
    )


def _move(
    request: OpsRequest,
    to: str,
    *,
    actor: User | None,
    note: str = "",
    reviewer: User | None = None,
    resolution_summary: str = "",
    source: str = "web",
) -> OpsRequest:
    """The move itself, for `move`, `triage` and the triage policies (which act as nobody)."""
    if to not in allowed_moves(request.state):
        raise ValidationError({"state": transition_refusal(request.state, to)})
    if request.state == State.TRIAGE and request.workstream_id is None:
        raise ValidationError({"workstream": f"{request} has no workstream yet: its lead triages it first."})
    fields: dict[str, object] = {}
    errors: dict[str, str] = {}
    if to == State.IN_PROCESS and request.assignee_id is None:
        errors["assignee"] = f"Assign {request} to someone before it is In_Process."
    if to == State.AWAITING_FEEDBACK:
        summary = resolution_summary.strip() or request.resolution_summary.strip()
        reviewer = reviewer or request.reviewer
        if not summary:
            errors["resolution_summary"] = "Write the resolution summary before asking for feedback."
        if reviewer is None:
            errors["reviewer"] = "Name the peer reviewer."
        elif reviewer.pk == request.assignee_id:
            errors["reviewer"] = (
                f"{reviewer} is the assignee: another person reviews (the owner stays assignee)."
            )
        else:
            _person(reviewer, "reviewer", "reviewer", errors)
        fields |= {"resolution_summary": summary, "reviewer": reviewer}
    if to == State.COMPLETED:
        errors |= checklist_missing(request)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    fields |= {"state": to, "state_changed_at": now}
    if to in CLOSED_STATES:
        fields["closed_at"] = now
    from_state = request.state
    update_object(request, actor=actor, source=source, **fields)
    _record_transition(request, from_state, to, actor=actor, note=note, source=source)
    return request


def _record_transition(
    request: OpsRequest, from_state: str, to: str, *, actor: User | None, note: str = "", source: str
) -> RequestTransition:
    # `actor` is create_object's own keyword (the audit's), so the row's actor goes by its id.
    return create_object(
        RequestTransition,
        actor=actor,
        source=source,
        request=request,
        from_state=from_state,
        to_state=to,
        actor_id=actor.pk if actor else None,
        note=note.strip(),
    )


def checklist_missing(request: OpsRequest) -> dict[str, str]:
    """The closing checklist's unticked items, by field; peer review only where it is required.

    The configuration changes linked to the request count: an applied one is its changelog entry,
    and its peer review is done if another admin approved it; one still open holds the request."""
    changes = list(request.change_requests.prefetch_related("reviews")) if request.pk else []
    applied = [c for c in changes if c.status == "applied"]
    pending = [c for c in changes if c.is_open]
    missing = {}
    for name, message in CHECKLIST.items():
        if name == "peer_review_done" and not request.needs_peer_review:
            continue
        value = getattr(request, name)
        if name == "changelog_entry" and applied:
            value = True
        if name == "peer_review_done" and applied and all(c.approvers() for c in applied):
            value = True
        if not (value.strip() if isinstance(value, str) else value):
            missing[name] = message
    if pending:
        numbers = ", ".join(f"!{c.number}" for c in pending)
        missing["change_requests"] = f"Configuration change {numbers} is open: apply, withdraw or reject it."
    return missing


@transaction.atomic
def update_checklist(
    request: OpsRequest, *, actor: User, source: str = "web", **items: bool | str
) -> OpsRequest:
    """Tick (or untick) closing checklist items. Peer review is ticked by the reviewer (or an
    admin), never by the assignee who did the work."""
    request = OpsRequest.objects.select_for_update().get(pk=request.pk)
    _open(request)
    _may_work(actor, request)
    unknown = set(items) - set(CHECKLIST)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: f"Not a checklist item: one of {', '.join(CHECKLIST)}."})
    if items.get("peer_review_done"):
        if request.reviewer_id is None:
            raise ValidationError({"peer_review_done": "Name the reviewer (Awaiting Feedback) first."})
        if actor.pk != request.reviewer_id and not is_manager(actor):
            raise ValidationError(
                {"peer_review_done": f"Only the reviewer, {request.reviewer}, ticks peer review."}
            )
    if isinstance(items.get("changelog_entry"), str):
        items["changelog_entry"] = items["changelog_entry"].strip()
    return update_object(request, actor=actor, source=source, **items)


@transaction.atomic
def add_comment(request: OpsRequest, *, actor: User, body: str, source: str = "web") -> RequestComment:
    """A person's comment: the requester's (an answer to a question, say) or a worker's."""
    errors: dict[str, str] = {}
    if not may_comment(actor, request):
        errors["actor"] = f"Only the requester or whoever works on {request} comments on it."
    body = (body or "").strip()
    if not body:
        errors["body"] = "Write the comment."
    if errors:
        raise ValidationError(errors)
    return create_object(
        RequestComment,
        actor=actor,
        source=source,
        request=request,
        author=actor,
        body=body,
        on=business_today(),
    )


# --- weight, assignment, milestones, epics ---------------------------------------------------------------


@transaction.atomic
def set_weight(request: OpsRequest, weight: int | None, *, actor: User, source: str = "web") -> OpsRequest:
    request = OpsRequest.objects.select_for_update().get(pk=request.pk)
    _open(request)
    _may_work(actor, request)
    if (problem := _weight_problem(weight)) is not None:
        raise ValidationError({"weight": problem})
    return update_object(request, actor=actor, source=source, weight=weight)


@transaction.atomic
def assign(request: OpsRequest, assignee: User | None, *, actor: User, source: str = "web") -> OpsRequest:
    request = OpsRequest.objects.select_for_update().get(pk=request.pk)
    _open(request)
    lead = request.workstream.lead_id if request.workstream else None
    if actor.pk not in {lead, request.assignee_id} and not is_manager(actor):
        raise ValidationError({"actor": "Only the workstream lead, the assignee or a CS Ops admin assigns."})
    errors: dict[str, str] = {}
    _person(assignee, "assignee", "assignee", errors)
    if assignee is not None and assignee.pk == request.reviewer_id:
        errors["assignee"] = f"{assignee} reviews {request}: the reviewer is not the assignee."
    if errors:
        raise ValidationError(errors)
    return update_object(request, actor=actor, source=source, assignee=assignee)


def _milestone_fields(milestone: Milestone | None, today: dt.date | None) -> dict[str, object]:
    """A request that joins a milestone after the milestone's start is an interrupt."""
    if milestone is None:
        return {"milestone": None, "interrupt": False}
    today = today or business_today()
    return {"milestone": milestone, "interrupt": today > milestone.start}


@transaction.atomic
def set_milestone(
    request: OpsRequest,
    milestone: Milestone | None,
    *,
    actor: User,
    today: dt.date | None = None,
    source: str = "web",
) -> OpsRequest:
    request = OpsRequest.objects.select_for_update().get(pk=request.pk)
    _open(request)
    _may_work(actor, request)
    if milestone is not None and milestone.pk == request.milestone_id:
        return request  # staying in its milestone does not make it an interrupt
    return update_object(request, actor=actor, source=source, **_milestone_fields(milestone, today))


@transaction.atomic
def create_milestone(
    *, actor: User, title: str, start: dt.date, due: dt.date, source: str = "web"
) -> Milestone:
    if not is_manager(actor) and not Workstream.objects.filter(lead=actor).exists():
        raise ValidationError({"actor": "Only a workstream lead or a CS Ops admin creates milestones."})
    return create_object(
        Milestone, actor=actor, source=source, title=(title or "").strip(), start=start, due=due
    )


@transaction.atomic
def create_epic(
    *, actor: User, workstream: Workstream, title: str, description: str = "", source: str = "web"
) -> Epic:
    if actor.pk != workstream.lead_id and not is_manager(actor):
        raise ValidationError(
            {"actor": f"Only the lead of {workstream} or a CS Ops admin creates its epics."}
        )
    return create_object(
        Epic,
        actor=actor,
        source=source,
        workstream=workstream,
        title=(title or "").strip(),
        description=description.strip(),
    )
