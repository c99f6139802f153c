"""REST endpoints for the core responsibilities tracker: list, read, update a status. Owners are named
by username; every change goes through `responsibilities`, so the rules are the pages' rules."""

import datetime as dt

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import Field

from csops.core.api import Pagination, filter_schema, filtered, require
from csops.customers.api import InputSchema
from csops.governance import responsibilities as tracker
from csops.governance import responsibility_views
from csops.governance.models import CoreProcess, ProcessStatusChange
from csops.governance.responsibility_forms import ProcessFilterSet

router = Router(tags=["core processes"])


class StatusChangeOut(Schema):
    from_status: str
    status: str
    reason: str
    plan: str
    changed_by: str | None
    at: dt.datetime

    @staticmethod
    def resolve_changed_by(obj: ProcessStatusChange) -> str | None:
        return obj.changed_by.username if obj.changed_by else None


class ProcessOut(Schema):
    id: int
    name: str
    owner: str
    status: str
    reason: str
    plan: str
    status_changed_at: dt.datetime | None
    days_in_status: int | None
    updated_at: dt.datetime

    @staticmethod
    def resolve_owner(obj: CoreProcess) -> str:
        return obj.owner.username

    @staticmethod
    def resolve_days_in_status(obj: CoreProcess) -> int | None:
        return tracker.days_in_status(obj.status_changed_at)


class ProcessDetailOut(ProcessOut):
    description: str
    history: list[StatusChangeOut]

    @staticmethod
    def resolve_history(obj: CoreProcess) -> list[ProcessStatusChange]:
        return tracker.history(obj)


class StatusIn(InputSchema):
    status: str = Field(description="red, yellow or green.")
    reason: str = Field("", description="Why it has this status: needed unless green.")
    plan: str = Field("", description="What is being done to make it green: needed unless green.")


ProcessFilters = filter_schema(ProcessFilterSet, "ProcessFilters")


@router.get("/core-processes", response=list[ProcessOut])
@paginate(Pagination)
def list_processes(request: HttpRequest, filters: Query[ProcessFilters]):
    """Worst status first (red, yellow, green), then by name."""
    require(request, "view_customers")
    return filtered(request, ProcessFilterSet, tracker.processes().order_by("status_rank", "name", "pk"))


@router.get("/core-processes/report.pdf", response={200: None}, openapi_extra={
    "responses": {200: {"description": "The one-page status report for leadership.",
                        "content": {"application/pdf": {}}}},
})
def report_pdf(request: HttpRequest):
    """Reds, then yellows with their reason and plan, then greens: the page's report as a PDF."""
    require(request, "view_customers")
    response = responsibility_views.report_pdf(request)
    if response.status_code != 200:
        raise HttpError(response.status_code, response.content.decode())
    return response


@router.get("/core-processes/{process_id}", response=ProcessDetailOut)
def get_process(request: HttpRequest, process_id: int):
    require(request, "view_customers")
    return get_object_or_404(tracker.processes(), pk=process_id)


@router.post("/core-processes/{process_id}/status", response=ProcessDetailOut)
def update_status(request: HttpRequest, process_id: int, payload: StatusIn):
    """The owner or an admin; an update that changes nothing writes nothing (and answers the same)."""
    process = get_object_or_404(CoreProcess, pk=process_id)
    tracker.update_status(
        process, actor=request.user, status=payload.status, reason=payload.reason, plan=payload.plan,
        source="api",
    )
    return get_process(request, process_id)
