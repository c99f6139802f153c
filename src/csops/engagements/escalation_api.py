"""REST endpoints for escalations: list, read, file, update. Accounts and tickets are named by CRM
id, as in an import; every change goes through `escalations`, so the rules are the pages' rules."""


import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from csops.core.api import Pagination, filter_schema, filtered, require
from csops.customers.api import InputSchema
from csops.customers.models import Account
from csops.engagements import escalations
from csops.engagements.escalation_forms import EscalationFilterSet
from csops.engagements.models import Escalation, EscalationUpdate

router = Router(tags=["escalations"])


class CriterionOut(Schema):
    key: str
    name: str
    met: bool
    detail: str


class UpdateOut(Schema):
    id: int
    author: str | None
    body: str
    status: str
    severity: str
    created_at: dt.datetime

    @staticmethod
    def resolve_author(obj: EscalationUpdate) -> str | None:
        return obj.author.username if obj.author else None


class EscalationOut(Schema):
    id: int
    account_id: int
    account: str
    kind: str
    ticket: str | None
    issue: str
    title: str
    severity: str
    status: str
    owner: str
    qualified: bool
    overridden_by: str | None
    override_reason: str
    next_update_due: dt.date | None
    resolution: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None

    @staticmethod
    def resolve_account(obj: Escalation) -> str:
        return obj.account.external_id

    @staticmethod
    def resolve_ticket(obj: Escalation) -> str | None:
        return obj.ticket.external_id if obj.ticket else None

    @staticmethod
    def resolve_owner(obj: Escalation) -> str:
        return obj.owner.username

    @staticmethod
    def resolve_overridden_by(obj: Escalation) -> str | None:
        return obj.overridden_by.username if obj.overridden_by else None


class EscalationDetailOut(EscalationOut):
    description: str
    criteria_as_of: str | None
    criteria: list[CriterionOut]
    updates: list[UpdateOut]

    @staticmethod
    def resolve_criteria_as_of(obj: Escalation) -> str | None:
        return obj.criteria.get("as_of")

    @staticmethod
    def resolve_criteria(obj: Escalation) -> list[dict[str, Any]]:
        return obj.criteria.get("items", [])

    @staticmethod
    def resolve_updates(obj: Escalation) -> list[EscalationUpdate]:
        return list(obj.updates.select_related("author"))


class EscalationIn(InputSchema):
    account: str = Field(description="The account's CRM id.")
    kind: str = Field(description="support or account.")
    severity: str = Field(description="critical, high, medium or low.")
    title: str = Field(max_length=200)
    description: str = ""
    ticket: str | None = Field(None, description="The ticket id: needed for a support escalation.")
    issue: str = Field("", description="blocking, churn or contraction: needed for an account escalation.")
    override_reason: str = Field(
        "", max_length=300, description="Needed when the account does not meet every criterion."
    )


class UpdateIn(InputSchema):
    body: str
    status: str | None = Field(None, description="open or monitoring; resolve through the pages.")
    severity: str | None = None


def _escalations():
    return Escalation.objects.select_related("account", "ticket", "owner", "overridden_by")


EscalationFilters = filter_schema(EscalationFilterSet, "EscalationFilters")


@router.get("/escalations", response=list[EscalationOut])
@paginate(Pagination)
def list_escalations(request: HttpRequest, filters: Query[EscalationFilters]):
    require(request, "view_customers")
    return filtered(request, EscalationFilterSet, _escalations().order_by("pk"))


@router.get("/escalations/{escalation_id}", response=EscalationDetailOut)
def get_escalation(request: HttpRequest, escalation_id: int):
    require(request, "view_customers")
    return get_object_or_404(_escalations(), pk=escalation_id)


@router.post("/escalations", response={201: EscalationDetailOut})
def file_escalation(request: HttpRequest, payload: EscalationIn):
    require(request, escalations.PERMISSION)
    account = Account.objects.select_related("segment").filter(external_id=payload.account.strip()).first()
    if account is None:
        raise ValidationError({"account": f"unknown account {payload.account!r}"})
    ticket = None
    if payload.ticket:
        ticket = account.tickets.filter(external_id=payload.ticket.strip()).first()
        if ticket is None:
            raise ValidationError({"ticket": f"{account} has no ticket {payload.ticket!r}"})
    escalation = escalations.file_escalation(
        account,
        actor=request.user,
        kind=payload.kind,
        severity=payload.severity,
        title=payload.title,
        description=payload.description,
        ticket=ticket,
        issue=payload.issue,
        override_reason=payload.override_reason,
        source="api",
    )
    return Status(201, get_escalation(request, escalation.pk))


@router.post("/escalations/{escalation_id}/updates", response={201: EscalationDetailOut})
def add_update(request: HttpRequest, escalation_id: int, payload: UpdateIn):
    require(request, escalations.PERMISSION)
    escalation = get_object_or_404(Escalation, pk=escalation_id)
    escalations.add_update(
        escalation,
        actor=request.user,
        body=payload.body,
        status=payload.status,
        severity=payload.severity,
        source="api",
    )
    return Status(201, get_escalation(request, escalation.pk))
