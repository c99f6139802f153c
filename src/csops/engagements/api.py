"""REST endpoints for CSE engagement requests: list, file, read, and the CSE's work on one (the call,
the follow-up email, a further question). References are as in an import: the account's and
opportunity's CRM ids, a contact's CRM id or e-mail, a person's username, e-mail or full name.
Every change goes through the engagement actions; their refusals are 422s naming the field."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from csops.cockpit.models import Priority
from csops.cockpit.selectors import user_by_reference
from csops.core.api import Pagination, filter_schema, filtered, require
from csops.customers.api import InputSchema
from csops.customers.models import Account, Contact
from csops.engagements import actions, selectors
from csops.engagements.filtersets import RequestFilterSet
from csops.engagements.models import EngagementRequest, FollowUp

router = Router(tags=["engagements"])


class FollowUpOut(Schema):
    id: int
    kind: str
    question: str
    opened_on: dt.date
    due_on: dt.date
    done_on: dt.date | None
    on_time: bool | None


class RequestOut(Schema):
    id: int
    account_id: int
    account: str
    opportunity_id: int | None
    contact_id: int
    filed_by: str
    topic: str
    interventions: list[str]
    primary_use_case: str
    risk_type: str
    environment: str
    challenges: str
    opt_out_outreach: bool
    priority: str
    approved_by: str | None
    approval_note: str
    status: str
    cse: str | None
    cta_id: int | None
    continues_id: int | None
    filed_at: dt.datetime
    converted_at: dt.datetime | None
    called_on: dt.date | None
    last_contact_on: dt.date | None
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_account(obj: EngagementRequest) -> str:
        return obj.account.name

    @staticmethod
    def resolve_filed_by(obj: EngagementRequest) -> str:
        return obj.filed_by.username

    @staticmethod
    def resolve_approved_by(obj: EngagementRequest) -> str | None:
        return obj.approved_by.username if obj.approved_by else None

    @staticmethod
    def resolve_cse(obj: EngagementRequest) -> str | None:
        return obj.cse.username if obj.cse else None


class RequestDetailOut(RequestOut):
    follow_ups: list[FollowUpOut]

    @staticmethod
    def resolve_follow_ups(obj: EngagementRequest) -> list[FollowUp]:
        return list(obj.follow_ups.all())


class RequestIn(InputSchema):
    account: str = Field(description="The account's CRM id.")
    contact: str = Field(description="The customer contact: CRM id or e-mail.")
    topic: str = Field(max_length=200)
    interventions: list[str]
    primary_use_case: str
    risk_type: str
    environment: str
    challenges: str = Field("", description="At most 1,000 characters; longer is refused, never cut.")
    opt_out_outreach: bool = False
    priority: str = Priority.MEDIUM
    opportunity: str | None = Field(None, description="The opportunity's CRM id.")
    approved_by: str | None = Field(
        None, description="Above the policy's ARR range: the regional sales leader who approved it."
    )
    approval_note: str = Field("", max_length=300)


class CallIn(InputSchema):
    date: dt.date
    notes: str = ""
    attendees: list[str] = Field(default_factory=list, description="Contacts: CRM id or e-mail.")


class FollowUpIn(InputSchema):
    contacts: list[str] = Field(description="Recipients: CRM id or e-mail.")
    summary: str
    action_items: str
    resources: str
    deploy_survey: bool = True


class QuestionIn(InputSchema):
    asked_on: dt.date
    question: str
    topic: str = Field("", max_length=200, description="A new topic opens a new request.")


class FollowUpSent(Schema):
    queued: list[int]
    already: list[int]
    surveyed: bool
    request: RequestDetailOut


class QuestionOut(Schema):
    new_request: bool = Field(description="True: a new topic or after 4 weeks, a new request was opened.")
    follow_up: FollowUpOut | None
    request: RequestDetailOut


def _requests():
    return selectors.requests().select_related("approved_by")


def _contact(account: Account, value: str, field: str) -> Contact:
    value = value.strip()
    found = (
        Contact.objects.filter(account=account)
        .filter(Q(external_id=value) | Q(email__iexact=value))
        .order_by("pk")
        .first()
        if value
        else None
    )
    if found is None:
        raise ValidationError({field: f"{value!r} is not a contact (CRM id or e-mail) of {account}."})
    return found


RequestFilters = filter_schema(RequestFilterSet, "RequestFilters")


@router.get("/engagement-requests", response=list[RequestOut])
@paginate(Pagination)
def list_requests(request: HttpRequest, filters: Query[RequestFilters]):
    require(request, "view_customers")
    return filtered(request, RequestFilterSet, _requests().order_by("pk"))


@router.get("/engagement-requests/{request_id}", response=RequestDetailOut)
def get_request(request: HttpRequest, request_id: int):
    require(request, "view_customers")
    return get_object_or_404(_requests(), pk=request_id)


@router.post("/engagement-requests", response={201: RequestDetailOut})
def file_request(request: HttpRequest, payload: RequestIn):
    require(request, "view_customers")
    account = (
        Account.objects.select_related("csm", "ae", "renewals_manager")
        .filter(external_id=payload.account.strip())
        .first()
    )
    if account is None:
        raise ValidationError({"account": f"unknown account {payload.account!r}"})
    if request.user not in actions.account_owners(account):
        raise PermissionDenied(selectors.filing_conditions(account, request.user).owner_problem)
    opportunity = None
    if payload.opportunity:
        opportunity = account.opportunities.filter(external_id=payload.opportunity.strip()).first()
        if opportunity is None:
            raise ValidationError(
                {"opportunity": f"{payload.opportunity!r} is not an opportunity (CRM id) of {account}."}
            )
    approver = None
    if payload.approved_by:
        approver = user_by_reference(payload.approved_by)
        if approver is None:
            raise ValidationError({"approved_by": f"unknown user {payload.approved_by!r}"})
    filed = actions.file_request(
        account,
        actor=request.user,
        contact=_contact(account, payload.contact, "contact"),
        topic=payload.topic,
        interventions=payload.interventions,
        primary_use_case=payload.primary_use_case,
        risk_type=payload.risk_type,
        environment=payload.environment,
        challenges=payload.challenges,
        opt_out_outreach=payload.opt_out_outreach,
        priority=payload.priority,
        opportunity=opportunity,
        approved_by=approver,
        approval_note=payload.approval_note,
        source="api",
    )
    return Status(201, get_request(request, filed.pk))


def _for_work(request_id: int) -> EngagementRequest:
    rows = EngagementRequest.objects.select_related("account", "cta__account")
    return get_object_or_404(rows, pk=request_id)


@router.post("/engagement-requests/{request_id}/call", response={201: RequestDetailOut})
def log_call(request: HttpRequest, request_id: int, payload: CallIn):
    require(request, "work_ctas")
    engagement = _for_work(request_id)
    attendees = [_contact(engagement.account, value, "attendees") for value in payload.attendees]
    actions.log_call(
        engagement,
        actor=request.user,
        date=payload.date,
        notes=payload.notes,
        attendees=attendees,
        source="api",
    )
    return Status(201, get_request(request, request_id))


@router.post("/engagement-requests/{request_id}/follow-up", response={201: FollowUpSent})
def send_follow_up(request: HttpRequest, request_id: int, payload: FollowUpIn):
    require(request, "work_ctas")
    engagement = _for_work(request_id)
    result = actions.send_follow_up(
        engagement,
        actor=request.user,
        contacts=[_contact(engagement.account, value, "contacts") for value in payload.contacts],
        summary=payload.summary,
        action_items=payload.action_items,
        resources=payload.resources,
        deploy_survey=payload.deploy_survey,
        source="api",
    )
    return Status(
        201,
        {
            "queued": [c.pk for c in result.queued],
            "already": [c.pk for c in result.already],
            "surveyed": result.surveyed,
            "request": get_request(request, request_id),
        },
    )


@router.post("/engagement-requests/{request_id}/questions", response={201: QuestionOut})
def record_question(request: HttpRequest, request_id: int, payload: QuestionIn):
    require(request, "work_ctas")
    engagement = _for_work(request_id)
    outcome = actions.record_question(
        engagement,
        actor=request.user,
        asked_on=payload.asked_on,
        question=payload.question,
        topic=payload.topic,
        source="api",
    )
    if isinstance(outcome, EngagementRequest):
        return Status(
            201, {"new_request": True, "follow_up": None, "request": get_request(request, outcome.pk)}
        )
    return Status(
        201, {"new_request": False, "follow_up": outcome, "request": get_request(request, request_id)}
    )
