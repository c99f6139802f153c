"""Reads of customer data: the querysets pages and the API share."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from csops.core.models import User
from csops.customers.models import (
    Account,
    Contact,
    CustomFieldDefinition,
    Opportunity,
    SupportTicket,
)

TEAM = ("ae", "sa", "csm", "cse", "renewals_manager")


def accounts() -> QuerySet[Account]:
    return Account.objects.select_related("segment", "geo", "csm", "parent")


def account_360(pk: int) -> Account:
    return (Account.objects.select_related("segment", "geo", "parent", *TEAM)
            .prefetch_related(
                Prefetch("contacts", Contact.objects.select_related("persona")),
                Prefetch("opportunities",
                         Opportunity.objects.select_related("risk_impact", "risk_reason", "handoff")
                         .order_by("-close_date")),
                Prefetch("tickets", SupportTicket.objects.order_by("-opened_at")),
                Prefetch("children", Account.objects.only("pk", "name", "parent_id", "arr")),
            ).get(pk=pk))


def contacts() -> QuerySet[Contact]:
    return Contact.objects.select_related("account", "persona")


def opportunities() -> QuerySet[Opportunity]:
    return Opportunity.objects.select_related("account", "risk_impact", "risk_reason", "renewal_dri")


def tickets() -> QuerySet[SupportTicket]:
    return SupportTicket.objects.select_related("account")


def assignable_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name")


def account_team(account: Account) -> list[tuple[str, User | None]]:
    return [(Account._meta.get_field(role).verbose_name, getattr(account, role)) for role in TEAM]


def custom_field_values(account: Account) -> list[tuple[str, object]]:
    labels = dict(CustomFieldDefinition.objects.values_list("name", "label"))
    return [(labels.get(name, name), value) for name, value in account.custom_fields.items()]
