"""REST endpoints for configuration change requests and the changelog: list, read, propose (objects
as their YAML files hold them), review. Every change goes through the governance actions; their
refusals are 422s naming the field."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from csops.core.api import Pagination, filter_schema, filtered, require
from csops.core.configuration import REGISTRY
from csops.customers.api import InputSchema
from csops.governance import actions, selectors
from csops.governance.filtersets import ChangeFilterSet, ChangelogFilterSet
from csops.governance.models import ChangeRequest
from csops.requests.models import OpsRequest

router = Router(tags=["governance"])


class ObjectOut(Schema):
    kind: str
    key: str
    verb: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ReviewOut(Schema):
    reviewer: str
    verdict: str
    body: str
    at: dt.datetime

    @staticmethod
    def resolve_reviewer(obj) -> str:
        return obj.reviewer.username


class ChangeOut(Schema):
    number: int
    title: str
    why: str
    status: str
    author: str
    review_required: bool
    ops_request_id: int | None
    created_at: dt.datetime
    applied_at: dt.datetime | None
    approved_by: list[str]
    objects: list[str]

    @staticmethod
    def resolve_author(obj: ChangeRequest) -> str:
        return obj.author.username

    @staticmethod
    def resolve_approved_by(obj: ChangeRequest) -> list[str]:
        return [u.username for u in obj.approvers()]

    @staticmethod
    def resolve_objects(obj: ChangeRequest) -> list[str]:
        return [f"{o.verb} {o.kind} {o.key}" for o in obj.items.all()]


class ChangeDetailOut(ChangeOut):
    items: list[ObjectOut]
    reviews: list[ReviewOut]
    impact: dict[str, Any] | None

    @staticmethod
    def resolve_items(obj: ChangeRequest) -> list:
        return list(obj.items.all())

    @staticmethod
    def resolve_reviews(obj: ChangeRequest) -> list:
        return list(obj.reviews.all())


class ObjectIn(InputSchema):
    kind: str = Field(description="A configuration kind, e.g. rules, playbooks, segments.")
    key: str = Field(description="The object's name.")
    definition: dict[str, Any] | None = Field(
        description="The object after the change, as in its YAML file; null removes it."
    )


class ChangeIn(InputSchema):
    title: str = Field(max_length=200)
    why: str
    objects: list[ObjectIn] = Field(min_length=1)
    ops_request: int | None = Field(None, description="The id of the CS Ops request it answers.")
    ask_review: bool = False


class ReviewIn(InputSchema):
    verdict: str = Field(description="approve, request_changes, reject or comment.")
    body: str = ""


ChangeFilters = filter_schema(ChangeFilterSet, "ChangeFilters")
ChangelogFilters = filter_schema(ChangelogFilterSet, "ChangelogFilters")


@router.get("/changes", response=list[ChangeOut])
@paginate(Pagination)
def list_changes(request: HttpRequest, filters: Query[ChangeFilters]):
    require(request, "view_customers")
    return filtered(request, ChangeFilterSet, selectors.change_requests().order_by("-number"))


@router.get("/changelog", response=list[ChangeOut])
@paginate(Pagination)
def changelog(request: HttpRequest, filters: Query[ChangelogFilters]):
    require(request, "view_customers")
    return filtered(request, ChangelogFilterSet, selectors.changelog())


@router.get("/changes/{number}", response=ChangeDetailOut)
def get_change(request: HttpRequest, number: int):
    require(request, "view_customers")
    return get_object_or_404(selectors.change_requests(), number=number)


def _diff(index: int, item: ObjectIn):
    if item.kind not in REGISTRY:
        raise ValidationError({f"objects.{index}.kind": f"No configuration kind {item.kind!r}."})
    if item.definition is not None and item.definition.get(REGISTRY[item.kind].key, item.key) != item.key:
        raise ValidationError(
            {f"objects.{index}.definition": "Its name must be the key (rename: add and remove)."}
        )
    definition = None if item.definition is None else {REGISTRY[item.kind].key: item.key, **item.definition}
    return actions.object_diff(item.kind, item.key, definition)


@router.post("/changes", response={201: ChangeDetailOut})
def propose(request: HttpRequest, payload: ChangeIn):
    require(request, "manage_config")
    ops_request = None
    if payload.ops_request is not None:
        ops_request = OpsRequest.objects.filter(pk=payload.ops_request).first()
        if ops_request is None:
            raise ValidationError({"ops_request": f"No CS Ops request {payload.ops_request}."})
    change = actions.propose(
        [_diff(i, item) for i, item in enumerate(payload.objects)],
        author=request.user,
        title=payload.title,
        why=payload.why,
        ops_request=ops_request,
        ask_review=payload.ask_review,
        source="api",
    )
    return Status(201, get_object_or_404(selectors.change_requests(), pk=change.pk))


@router.post("/changes/{number}/reviews", response={201: ChangeDetailOut})
def review(request: HttpRequest, number: int, payload: ReviewIn):
    require(request, "view_customers")
    change = get_object_or_404(ChangeRequest, number=number)
    actions.review(change, reviewer=request.user, verdict=payload.verdict, body=payload.body)
    return Status(201, get_object_or_404(selectors.change_requests(), pk=change.pk))
