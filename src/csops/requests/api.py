"""REST endpoints for CS Ops requests: list (the board's filters), read, file, move. People are
referenced as in an import (username, e-mail or full name), workstreams by name, workflow labels
by value (`in_process`) or as GitLab shows them (`In_Process`). Every change goes through the
request actions: what they refuse is a 422 naming the field, what is not the caller's to do a 403."""

import datetime as dt
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from csops.cockpit.api import person
from csops.core.api import Pagination, filter_schema, filtered, require
from csops.customers.api import InputSchema
from csops.requests import actions, selectors
from csops.requests.actions import CHECKLIST
from csops.requests.filtersets import OpsRequestFilterSet
from csops.requests.models import OpsRequest, RequestComment, RequestTransition, State, TeamLabel, Workstream

router = Router(tags=["requests"])


def _username(user) -> str | None:
    return user.username if user else None


class RequestOut(Schema):
    id: int
    title: str
    state: str = Field(description="The workflow label's value, e.g. in_process.")
    state_label: str = Field(description="The workflow label as GitLab shows it, e.g. In_Process.")
    workstream: str | None
    team_label: str
    requester_label: str
    labels: list[str] = Field(description="Free labels, and CSOps - Interrupt when it is one.")
    requester: str
    assignee: str | None
    reviewer: str | None
    weight: int | None
    milestone: str | None
    epic: str | None
    due_date: dt.date | None
    interrupt: bool
    needs_peer_review: bool
    is_closed: bool
    created_at: dt.datetime
    state_changed_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_state_label(obj: OpsRequest) -> str:
        return obj.get_state_display()

    @staticmethod
    def resolve_workstream(obj: OpsRequest) -> str | None:
        return obj.workstream.name if obj.workstream else None

    @staticmethod
    def resolve_labels(obj: OpsRequest) -> list[str]:
        free = [label.name for label in obj.extra_labels.all()]
        return ["CSOps - Interrupt", *free] if obj.interrupt else free

    @staticmethod
    def resolve_requester(obj: OpsRequest) -> str:
        return obj.requester.username

    @staticmethod
    def resolve_assignee(obj: OpsRequest) -> str | None:
        return _username(obj.assignee)

    @staticmethod
    def resolve_reviewer(obj: OpsRequest) -> str | None:
        return _username(obj.reviewer)

    @staticmethod
    def resolve_milestone(obj: OpsRequest) -> str | None:
        return obj.milestone.title if obj.milestone else None

    @staticmethod
    def resolve_epic(obj: OpsRequest) -> str | None:
        return obj.epic.title if obj.epic else None


class TransitionOut(Schema):
    from_state: str
    to_state: str
    actor: str | None
    at: dt.datetime
    note: str

    @staticmethod
    def resolve_actor(obj: RequestTransition) -> str | None:
        return _username(obj.actor)


class CommentOut(Schema):
    author: str | None
    policy: str = Field(description="The triage policy that made it, else empty.")
    body: str
    created_at: dt.datetime

    @staticmethod
    def resolve_author(obj: RequestComment) -> str | None:
        return _username(obj.author)


class RequestDetailOut(RequestOut):
    description: str
    resolution_summary: str
    checklist: dict[str, bool | str]
    checklist_missing: dict[str, str] = Field(description="What Completed still needs, by item.")
    moves: list[str] = Field(description="The workflow labels the caller may move it to now.")
    transitions: list[TransitionOut]
    comments: list[CommentOut]

    @staticmethod
    def resolve_checklist(obj: OpsRequest) -> dict[str, bool | str]:
        return {name: getattr(obj, name) for name in CHECKLIST}

    @staticmethod
    def resolve_checklist_missing(obj: OpsRequest) -> dict[str, str]:
        return actions.checklist_missing(obj)

    @staticmethod
    def resolve_moves(obj: OpsRequest, context) -> list[str]:
        return [] if obj.is_closed else [s.value for s in actions.moves_for(context["request"].user, obj)]

    @staticmethod
    def resolve_transitions(obj: OpsRequest) -> list[RequestTransition]:
        return list(obj.transitions.all())

    @staticmethod
    def resolve_comments(obj: OpsRequest) -> list[RequestComment]:
        return list(obj.comments.all())


class RequestIn(InputSchema):
    title: str = Field(max_length=200)
    description: str
    requester_label: str = ""
    team_label: str = TeamLabel.CSOPS
    workstream: str | None = Field(None, description="Its name; its lead reviews the request at triage.")
    due_date: dt.date | None = Field(None, description="Needed by; not in the past.")


class MoveIn(InputSchema):
    to: str = Field(description="The workflow label: in_process or In_Process.")
    note: str = ""
    reviewer: str | None = Field(
        None, description="To Awaiting Feedback: the peer reviewer (not the assignee)."
    )
    resolution_summary: str = Field("", description="To Awaiting Feedback: what was done.")


def _requests():
    return selectors.requests().select_related("reviewer", "epic").prefetch_related("extra_labels")


@contextmanager
def _refusals(rename: dict[str, str] | None = None):
    """An action's refusal: a 403 when it is not the caller's to do, else a 422 naming the API's
    own field names."""
    try:
        yield
    except ValidationError as exc:
        errors = getattr(exc, "message_dict", None)
        if errors and "actor" in errors:
            raise PermissionDenied(" ".join(errors["actor"])) from None
        if errors and rename:
            raise ValidationError({rename.get(k, k): v for k, v in errors.items()}) from None
        raise


def _state(value: str) -> State:
    wanted = value.strip().lower()
    for state in State:
        if wanted in (state.value, state.label.lower()):
            return state
    raise ValidationError({"to": f"unknown workflow label {value!r} (one of: {', '.join(State.labels)})"})


RequestFilters = filter_schema(OpsRequestFilterSet, "OpsRequestFilters")


@router.get("/requests", response=list[RequestOut])
@paginate(Pagination)
def list_requests(request: HttpRequest, filters: Query[RequestFilters]):
    require(request, "view_customers")
    return filtered(request, OpsRequestFilterSet, _requests().order_by("pk"))


@router.get("/requests/{request_id}", response=RequestDetailOut)
def get_request(request: HttpRequest, request_id: int):
    require(request, "view_customers")
    return get_object_or_404(
        _requests().prefetch_related("transitions__actor", "comments__author"), pk=request_id
    )


@router.post("/requests", response={201: RequestDetailOut})
def file_request(request: HttpRequest, payload: RequestIn):
    require(request, "view_customers")
    workstream = None
    if payload.workstream:
        workstream = Workstream.objects.filter(name__iexact=payload.workstream.strip()).first()
        if workstream is None:
            names = ", ".join(Workstream.objects.values_list("name", flat=True))
            raise ValidationError(
                {"workstream": f"unknown workstream {payload.workstream!r} (one of: {names})"}
            )
    with _refusals():
        filed = actions.file_request(
            actor=request.user,
            title=payload.title,
            description=payload.description,
            requester_label=payload.requester_label,
            team_label=payload.team_label,
            workstream=workstream,
            due_date=payload.due_date,
            source="api",
        )
    return Status(201, get_request(request, filed.pk))


@router.post("/requests/{request_id}/move", response=RequestDetailOut)
def move_request(request: HttpRequest, request_id: int, payload: MoveIn):
    require(request, "view_customers")
    ops = get_object_or_404(OpsRequest.objects.select_related("workstream"), pk=request_id)
    to = _state(payload.to)
    reviewer = person(payload.reviewer, "reviewer") if payload.reviewer else None
    with _refusals({"state": "to"}):
        actions.move(
            ops,
            to,
            actor=request.user,
            note=payload.note,
            reviewer=reviewer,
            resolution_summary=payload.resolution_summary,
            source="api",
        )
    return get_request(request, request_id)
