"""REST endpoints for timeline activities; a new activity is checked exactly as an import row."""

import datetime as dt

from django.db.models import Prefetch
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from csops.cockpit.models import Cta
from csops.core.api import Pagination, filter_schema, filtered, require
from csops.customers.api import InputSchema
from csops.customers.models import Account, Contact
from csops.timeline.actions import log_activity
from csops.timeline.filtersets import ActivityFilterSet
from csops.timeline.imports import parse_activity
from csops.timeline.models import Activity, ActivityType

router = Router(tags=["timeline"])


class ActivityOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    type: str
    subject: str
    date: dt.date
    notes: str
    sentiment: str
    author: str | None
    cta_id: int | None
    customer_attendees: list[str] = Field(description="The attending contacts' CRM ids.")
    created_at: dt.datetime

    @staticmethod
    def resolve_type(obj: Activity) -> str:
        return obj.type.name

    @staticmethod
    def resolve_author(obj: Activity) -> str | None:
        return obj.author.username if obj.author else None

    @staticmethod
    def resolve_customer_attendees(obj: Activity) -> list[str]:
        return [c.external_id for c in obj.external_attendees.all()]


class ActivityIn(InputSchema):
    account: str = Field(description="The account's CRM id.")
    type: str = Field(description="An activity type's name, e.g. Customer Call.")
    subject: str
    date: dt.date
    notes: str = ""
    sentiment: str = ""
    customer_attendees: list[str] = Field([], description="CRM ids of the account's contacts.")
    cta: int | None = Field(None, description="The id of one of the account's CTAs.")
    external_id: str | None = None


def activities():
    return Activity.objects.select_related("type", "author").prefetch_related(
        Prefetch("external_attendees", Contact.objects.only("pk", "external_id"))
    )


ActivityFilters = filter_schema(ActivityFilterSet, "ActivityFilters")


@router.get("/activities", response=list[ActivityOut])
@paginate(Pagination)
def list_activities(request: HttpRequest, filters: Query[ActivityFilters]):
    require(request, "view_customers")
    return filtered(request, ActivityFilterSet, activities().order_by("-date", "-pk"))


@router.get("/activities/{activity_id}", response=ActivityOut)
def get_activity(request: HttpRequest, activity_id: int):
    require(request, "view_customers")
    return get_object_or_404(activities(), pk=activity_id)


@router.post("/activities", response={201: ActivityOut})
def create_activity(request: HttpRequest, payload: ActivityIn):
    require(request, "log_activity")
    values = parse_activity(payload.model_dump(exclude_defaults=True))
    activity = log_activity(
        Account.objects.get(pk=values["account"]),
        author=request.user,
        type=ActivityType.objects.get(pk=values["type"]),
        subject=values["subject"],
        date=values["date"],
        notes=values.get("notes", ""),
        sentiment=values.get("sentiment", ""),
        internal_attendees=[request.user],
        external_attendees=list(Contact.objects.filter(pk__in=values.get("external_attendees", []))),
        cta=Cta.objects.filter(pk=values["cta"]).first() if "cta" in values else None,
        external_id=values.get("external_id"),
        source="api",
    )
    return Status(201, get_activity(request, activity.pk))
