"""REST endpoints for CTAs and their tasks.

References are by name (type, reason, status, playbook), username, e-mail or full name (owner) and
CRM id (account), as in an import; every change goes through the cockpit's actions.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from csops.cockpit import actions, selectors
from csops.cockpit.filtersets import CtaFilterSet, TaskFilterSet
from csops.cockpit.models import Cta, CtaReason, CtaStatus, CtaType, Playbook, Task
from csops.core.api import Pagination, filter_schema, filtered, require
from csops.core.models import User
from csops.customers.api import InputSchema
from csops.customers.models import Account

router = Router(tags=["cockpit"])


def _username(user: User | None) -> str | None:
    return user.username if user else None


class TaskOut(Schema):
    id: int
    cta_id: int
    name: str
    owner: str | None
    due_date: dt.date | None
    position: int
    done: bool
    done_at: dt.datetime | None

    @staticmethod
    def resolve_owner(obj: Task) -> str | None:
        return _username(obj.owner)

    @staticmethod
    def resolve_done(obj: Task) -> bool:
        return obj.done_at is not None


class CtaOut(Schema):
    id: int
    name: str
    account_id: int
    account: str
    type: str
    reason: str
    priority: str
    status: str
    is_closed: bool
    owner: str | None
    due_date: dt.date | None
    source: str
    source_ref: str
    playbook: str | None
    snoozed_until: dt.date | None
    snooze_reason: str
    created_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_account(obj: Cta) -> str:
        return obj.account.name

    @staticmethod
    def resolve_type(obj: Cta) -> str:
        return obj.type.name

    @staticmethod
    def resolve_reason(obj: Cta) -> str:
        return obj.reason.name

    @staticmethod
    def resolve_status(obj: Cta) -> str:
        return obj.status.name

    @staticmethod
    def resolve_owner(obj: Cta) -> str | None:
        return _username(obj.owner)

    @staticmethod
    def resolve_playbook(obj: Cta) -> str | None:
        return obj.playbook.name if obj.playbook else None


class CtaDetailOut(CtaOut):
    tasks: list[TaskOut]

    @staticmethod
    def resolve_tasks(obj: Cta) -> list[Task]:
        return selectors.cta_tasks(obj)


class CtaIn(InputSchema):
    account: str = Field(description="The account's CRM id.")
    type: str
    reason: str = Field(description="A reason of the type.")
    priority: str = "medium"
    owner: str | None = Field(None, description="Username, e-mail or full name; default: the account's CSM.")
    due_date: dt.date | None = None
    playbook: str | None = None
    name: str | None = Field(None, max_length=255, description="Default: '<account> - <reason>'.")
    dedupe_key: str | None = Field(
        None, max_length=200,
        description="Send one to make retries safe: a second create with it returns the first CTA.",
    )


class CtaPatch(InputSchema):
    owner: str | None = None
    priority: str | None = None
    due_date: dt.date | None = None
    status: str | None = Field(None, description="A closed status closes the CTA; an open one reopens it.")
    snoozed_until: dt.date | None = Field(None, description="A future date snoozes; null wakes the CTA.")
    snooze_reason: str | None = None


class TaskPatch(InputSchema):
    done: bool


def named(model: type[models.Model], field: str, value: str, queryset=None):
    """The row called `value` (any case), or a 422 naming the field and the choices."""
    rows = queryset if queryset is not None else model.objects.all()
    found = rows.filter(name__iexact=value.strip()).first()
    if found is None:
        allowed = ", ".join(rows.values_list("name", flat=True)[:30])
        raise ValidationError({field: f"unknown {field} {value!r} (allowed: {allowed})"})
    return found


def person(value: str | None, field: str = "owner") -> User:
    if not (value or "").strip():
        raise ValidationError({field: "give a username, e-mail or full name; a CTA keeps an owner"})
    user = selectors.user_by_reference(value)
    if user is None:
        raise ValidationError({field: f"unknown user {value!r}"})
    return user


def _api_ctas():
    return selectors.ctas().select_related("playbook")


CtaFilters = filter_schema(CtaFilterSet, "CtaFilters")
TaskFilters = filter_schema(TaskFilterSet, "TaskFilters")


@router.get("/ctas", response=list[CtaOut])
@paginate(Pagination)
def list_ctas(request: HttpRequest, filters: Query[CtaFilters]):
    require(request, "view_customers")
    # In id order: stable for paging through every CTA, and cheap at any size.
    return filtered(request, CtaFilterSet, _api_ctas().order_by("pk"))


@router.get("/ctas/{cta_id}", response=CtaDetailOut)
def get_cta(request: HttpRequest, cta_id: int):
    require(request, "view_customers")
    return get_object_or_404(_api_ctas(), pk=cta_id)


@router.post("/ctas", response={201: CtaDetailOut})
def create_cta(request: HttpRequest, payload: CtaIn):
    require(request, "work_ctas")
    account = Account.objects.filter(external_id=payload.account.strip()).first()
    if account is None:
        raise ValidationError({"account": f"unknown account {payload.account!r}"})
    kind = named(CtaType, "type", payload.type)
    cta = actions.raise_manual_cta(
        account,
        actor=request.user,
        type=kind,
        reason=named(CtaReason, "reason", payload.reason, kind.reasons.all()),
        owner=person(payload.owner) if payload.owner else None,
        priority=payload.priority,
        due_date=payload.due_date,
        playbook=named(Playbook, "playbook", payload.playbook) if payload.playbook else None,
        name=payload.name or "",
        dedupe_key=f"api:{payload.dedupe_key}" if payload.dedupe_key else None,
    )
    return Status(201, get_cta(request, cta.pk))


@router.patch("/ctas/{cta_id}", response=CtaDetailOut)
def update_cta(request: HttpRequest, cta_id: int, payload: CtaPatch):
    require(request, "work_ctas")
    cta = get_object_or_404(Cta.objects.select_related("type", "status"), pk=cta_id)
    changes: dict[str, Any] = payload.model_dump(exclude_unset=True)
    if "status" in changes:
        changes["status"] = named(CtaStatus, "status", changes["status"]) if changes["status"] else None
    if "owner" in changes:
        changes["owner"] = person(changes["owner"])
    if changes.get("snooze_reason") is None and "snooze_reason" in changes:
        changes["snooze_reason"] = ""
    actions.update_cta(cta, actor=request.user, source="api", **changes)
    return get_cta(request, cta_id)


@router.get("/tasks", response=list[TaskOut])
@paginate(Pagination)
def list_tasks(request: HttpRequest, filters: Query[TaskFilters]):
    require(request, "view_customers")
    return filtered(request, TaskFilterSet, selectors.tasks().order_by("cta_id", "position", "pk"))


@router.get("/tasks/{task_id}", response=TaskOut)
def get_task(request: HttpRequest, task_id: int):
    require(request, "view_customers")
    return get_object_or_404(selectors.tasks(), pk=task_id)


@router.patch("/tasks/{task_id}", response=TaskOut)
def update_task(request: HttpRequest, task_id: int, payload: TaskPatch):
    require(request, "work_ctas")
    task = get_object_or_404(Task, pk=task_id)
    if payload.done:
        actions.complete_task(task, actor=request.user)
    else:
        actions.reopen_task(task, actor=request.user)
    return get_task(request, task_id)
