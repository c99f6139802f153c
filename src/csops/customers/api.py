"""REST endpoints for accounts, contacts, opportunities and support tickets.

Input goes through the same parsers and checks as an import row, so a value the import
rejects the API rejects with the same reason; references are by name, username or CRM id.
"""


import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from csops.core.api import Pagination, filter_schema, filtered, require
from csops.customers import actions, selectors
from csops.customers.filtersets import (
    AccountFilterSet,
    ContactFilterSet,
    OpportunityFilterSet,
    TicketFilterSet,
)
from csops.customers.imports import MODELS, model_fields, validate_rows
from csops.customers.models import Account, Contact, Opportunity, SupportTicket

router = Router(tags=["customers"])


def _username(user) -> str | None:
    return user.username if user else None


class AccountOut(Schema):
    id: int
    external_id: str
    name: str
    parent_id: int | None
    segment: str
    geo: str | None
    industry: str
    employees: int | None
    sales_segment: str
    arr: Decimal
    lam: Decimal | None
    tier: str
    deployment: str
    lifecycle_stage: str
    csm_priority: str
    contract_start: dt.date | None
    renewal_date: dt.date | None
    licensed_users: int | None
    ae: str | None
    sa: str | None
    csm: str | None
    cse: str | None
    renewals_manager: str | None
    csm_sentiment: str
    csm_sentiment_date: dt.date | None
    cs_project_url: str
    slack_channel: str
    custom_fields: dict[str, Any]
    health_score: float | None
    health_color: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_segment(obj: Account) -> str:
        return obj.segment.name

    @staticmethod
    def resolve_geo(obj: Account) -> str | None:
        return obj.geo.name if obj.geo else None

    @staticmethod
    def resolve_ae(obj): return _username(obj.ae)

    @staticmethod
    def resolve_sa(obj): return _username(obj.sa)

    @staticmethod
    def resolve_csm(obj): return _username(obj.csm)

    @staticmethod
    def resolve_cse(obj): return _username(obj.cse)

    @staticmethod
    def resolve_renewals_manager(obj): return _username(obj.renewals_manager)


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class AccountPatch(InputSchema):
    external_id: str | None = None
    name: str | None = None
    parent: str | None = None
    segment: str | None = None
    geo: str | None = None
    industry: str | None = None
    employees: int | None = None
    sales_segment: str | None = None
    arr: Decimal | None = None
    lam: Decimal | None = None
    tier: str | None = None
    deployment: str | None = None
    lifecycle_stage: str | None = None
    csm_priority: str | None = None
    contract_start: dt.date | None = None
    renewal_date: dt.date | None = None
    licensed_users: int | None = None
    ae: str | None = None
    sa: str | None = None
    csm: str | None = None
    cse: str | None = None
    renewals_manager: str | None = None
    csm_sentiment: str | None = None
    csm_sentiment_date: dt.date | None = None
    cs_project_url: str | None = None
    slack_channel: str | None = None
    custom_fields: dict[str, Any] | None = None


class AccountIn(AccountPatch):
    external_id: str
    name: str


class ContactOut(Schema):
    id: int
    external_id: str
    account_id: int
    first_name: str
    last_name: str
    email: str
    title: str
    phone: str
    persona: str | None
    email_opt_out: bool

    @staticmethod
    def resolve_persona(obj: Contact) -> str | None:
        return obj.persona.name if obj.persona else None


class ContactPatch(InputSchema):
    external_id: str | None = None
    account: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    title: str | None = None
    phone: str | None = None
    persona: str | None = None
    email_opt_out: bool | None = None


class ContactIn(ContactPatch):
    external_id: str
    account: str
    last_name: str


class OpportunityOut(Schema):
    id: int
    external_id: str
    account_id: int
    name: str
    type: str
    arr_basis: Decimal
    net_arr: Decimal
    close_date: dt.date
    stage: str
    forecast_category: str
    risk_impact: str | None
    risk_reason: str | None
    renewal_due: dt.date | None
    renewal_dri: str | None
    next_step: str
    next_step_date: dt.date | None

    @staticmethod
    def resolve_renewal_dri(obj: Opportunity) -> str | None:
        return obj.renewal_dri.username if obj.renewal_dri else None

    @staticmethod
    def resolve_risk_impact(obj: Opportunity) -> str | None:
        return obj.risk_impact.name if obj.risk_impact else None

    @staticmethod
    def resolve_risk_reason(obj: Opportunity) -> str | None:
        return obj.risk_reason.name if obj.risk_reason else None


class OpportunityPatch(InputSchema):
    external_id: str | None = None
    account: str | None = None
    name: str | None = None
    type: str | None = None
    arr_basis: Decimal | None = None
    net_arr: Decimal | None = None
    close_date: dt.date | None = None
    stage: str | None = None
    forecast_category: str | None = None
    risk_impact: str | None = None
    risk_reason: str | None = None
    renewal_due: dt.date | None = None
    renewal_dri: str | None = None
    next_step: str | None = None
    next_step_date: dt.date | None = None


class OpportunityIn(OpportunityPatch):
    external_id: str
    account: str
    name: str
    type: str
    close_date: dt.date
    stage: str


class TicketOut(Schema):
    id: int
    external_id: str
    account_id: int
    subject: str
    severity: str
    is_emergency: bool
    opened_at: dt.datetime
    closed_at: dt.datetime | None


class TicketPatch(InputSchema):
    external_id: str | None = None
    account: str | None = None
    subject: str | None = None
    severity: str | None = None
    is_emergency: bool | None = None
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


class TicketIn(TicketPatch):
    external_id: str
    account: str
    subject: str
    severity: str
    opened_at: dt.datetime


def parse_input(kind: str, payload: Schema, *, update: bool) -> dict[str, Any]:
    """Validate an API body exactly as an import row; blank values clear optional fields."""
    data = payload.model_dump(exclude_unset=True)
    data.update(data.pop("custom_fields", None) or {})
    validation = validate_rows(kind, list(data), [(1, data)], update=update)
    errors: dict[str, list[str]] = {}
    for error in validation.errors:
        errors.setdefault(error.column or "__all__", []).append(error.reason)
    for column in validation.ignored_columns:
        errors.setdefault(column, []).append("unknown field")
    if errors:
        raise ValidationError(errors)
    fields = model_fields(validation.rows[0].values if validation.rows else {})
    model = MODELS[kind]
    for name, value in data.items():
        if value in (None, "") and name in validation.headers:
            model_field = model._meta.get_field(name)
            key = model_field.attname
            if key not in fields:
                fields[key] = None if model_field.null else model_field.get_default()
    custom = fields.pop("custom_fields", None)
    if custom is not None:
        fields["custom_fields"] = custom
    return fields


def _merge_custom(obj: models.Model, fields: dict[str, Any]) -> dict[str, Any]:
    if "custom_fields" in fields:
        fields["custom_fields"] = {**obj.custom_fields, **fields["custom_fields"]}
    return fields


AccountFilters = filter_schema(AccountFilterSet, "AccountFilters")
ContactFilters = filter_schema(ContactFilterSet, "ContactFilters")
OpportunityFilters = filter_schema(OpportunityFilterSet, "OpportunityFilters")
TicketFilters = filter_schema(TicketFilterSet, "TicketFilters")


@router.get("/accounts", response=list[AccountOut])
@paginate(Pagination)
def list_accounts(request: HttpRequest, filters: Query[AccountFilters]):
    require(request, "view_customers")
    queryset = selectors.accounts().select_related(*selectors.TEAM).order_by("name", "pk")
    return filtered(request, AccountFilterSet, queryset)


@router.get("/accounts/{account_id}", response=AccountOut)
def get_account(request: HttpRequest, account_id: int):
    require(request, "view_customers")
    return get_object_or_404(selectors.accounts().select_related(*selectors.TEAM), pk=account_id)


@router.post("/accounts", response={201: AccountOut})
def create_account(request: HttpRequest, payload: AccountIn):
    require(request, "add_account")
    fields = parse_input("accounts", payload, update=False)
    account = actions.create_account(actor=request.user, source="api", **fields)
    return Status(201, get_account(request, account.pk))


@router.patch("/accounts/{account_id}", response=AccountOut)
def update_account(request: HttpRequest, account_id: int, payload: AccountPatch):
    require(request, "change_account")
    account = get_object_or_404(Account, pk=account_id)
    fields = _merge_custom(account, parse_input("accounts", payload, update=True))
    actions.update_account(account, actor=request.user, source="api", **fields)
    return get_account(request, account_id)


@router.get("/contacts", response=list[ContactOut])
@paginate(Pagination)
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]):
    require(request, "view_customers")
    return filtered(request, ContactFilterSet, selectors.contacts().order_by("last_name", "pk"))


@router.get("/contacts/{contact_id}", response=ContactOut)
def get_contact(request: HttpRequest, contact_id: int):
    require(request, "view_customers")
    return get_object_or_404(selectors.contacts(), pk=contact_id)


@router.post("/contacts", response={201: ContactOut})
def create_contact(request: HttpRequest, payload: ContactIn):
    require(request, "add_contact")
    contact = actions.create_contact(actor=request.user, source="api",
                                     **parse_input("contacts", payload, update=False))
    return Status(201, contact)


@router.patch("/contacts/{contact_id}", response=ContactOut)
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch):
    require(request, "change_contact")
    contact = get_object_or_404(Contact, pk=contact_id)
    return actions.update_contact(contact, actor=request.user, source="api",
                                  **parse_input("contacts", payload, update=True))


@router.get("/opportunities", response=list[OpportunityOut])
@paginate(Pagination)
def list_opportunities(request: HttpRequest, filters: Query[OpportunityFilters]):
    require(request, "view_customers")
    return filtered(request, OpportunityFilterSet, selectors.opportunities().order_by("close_date", "pk"))


@router.get("/opportunities/{opportunity_id}", response=OpportunityOut)
def get_opportunity(request: HttpRequest, opportunity_id: int):
    require(request, "view_customers")
    return get_object_or_404(selectors.opportunities(), pk=opportunity_id)


@router.post("/opportunities", response={201: OpportunityOut})
def create_opportunity(request: HttpRequest, payload: OpportunityIn):
    require(request, "add_opportunity")
    opportunity = actions.create_opportunity(actor=request.user, source="api",
                                             **parse_input("opportunities", payload, update=False))
    return Status(201, opportunity)


@router.patch("/opportunities/{opportunity_id}", response=OpportunityOut)
def update_opportunity(request: HttpRequest, opportunity_id: int, payload: OpportunityPatch):
    require(request, "change_opportunity")
    opportunity = get_object_or_404(Opportunity, pk=opportunity_id)
    return actions.update_opportunity(opportunity, actor=request.user, source="api",
                                      **parse_input("opportunities", payload, update=True))


@router.get("/tickets", response=list[TicketOut])
@paginate(Pagination)
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]):
    require(request, "view_customers")
    return filtered(request, TicketFilterSet, selectors.tickets().order_by("-opened_at", "pk"))


@router.get("/tickets/{ticket_id}", response=TicketOut)
def get_ticket(request: HttpRequest, ticket_id: int):
    require(request, "view_customers")
    return get_object_or_404(selectors.tickets(), pk=ticket_id)


@router.post("/tickets", response={201: TicketOut})
def create_ticket(request: HttpRequest, payload: TicketIn):
    require(request, "add_ticket")
    ticket = actions.create_ticket(actor=request.user, source="api",
                                   **parse_input("tickets", payload, update=False))
    return Status(201, ticket)


@router.patch("/tickets/{ticket_id}", response=TicketOut)
def update_ticket(request: HttpRequest, ticket_id: int, payload: TicketPatch):
    require(request, "change_ticket")
    ticket = get_object_or_404(SupportTicket, pk=ticket_id)
    return actions.update_ticket(ticket, actor=request.user, source="api",
                                 **parse_input("tickets", payload, update=True))
