"""Reads for the cockpit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, F, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.urls import reverse

from csops.cockpit.forms import ObjectiveForm, SuccessPlanForm
from csops.cockpit.models import Cta, CtaStatus, PlanStatus, SuccessPlan, Task
from csops.core.models import User
from csops.core.permissions import PERMISSIONS, has_perm
from csops.customers.models import Contact

LIST_RELATED = ("account", "type", "reason", "status", "owner")
PILE_SIZE = 25


def success_plan_context(user, account) -> dict:
    return {
        "success_plans": list(SuccessPlan.objects.filter(account=account).prefetch_related("objectives")),
        "can_manage_plans": has_perm(user, "manage_success_plans"),
        "plan_form": SuccessPlanForm(),
        "objective_form": ObjectiveForm(),
        "plan_statuses": PlanStatus.choices,
        "open_ctas": open_ctas(account),
    }


def open_ctas(account) -> list:
    return list(
        Cta.objects.filter(account=account, closed_at__isnull=True)
        .select_related("type", "reason", "status", "owner")
        .prefetch_related("tasks")
    )


def ctas() -> QuerySet[Cta]:
    """CTAs with what a list row shows, for the list page and the API alike."""
    return Cta.objects.select_related(*LIST_RELATED)


# --- states: the piles of My CTAs and the list's "state" filter are the same conditions ----------


def _awake(today: dt.date) -> Q:
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=today)


def state_condition(state: str, today: dt.date) -> Q:
    """Open, active (open and awake), overdue, due today, upcoming, snoozed or closed."""
    is_open = Q(closed_at__isnull=True)
    awake = is_open & _awake(today)
    conditions = {
        "open": is_open,
        "active": awake,
        "overdue": awake & Q(due_date__lt=today),
        "today": awake & Q(due_date=today),
        # No due date counts as upcoming: it is not late, and it must show somewhere.
        "upcoming": awake & (Q(due_date__gt=today) | Q(due_date__isnull=True)),
        "snoozed": is_open & Q(snoozed_until__gt=today),
        "closed": Q(closed_at__isnull=False),
    }
    return conditions[state]


STATES = [
    ("open", "Open"),
    ("active", "Open, not snoozed"),
    ("overdue", "Overdue"),
    ("today", "Due today"),
    ("upcoming", "Upcoming"),
    ("snoozed", "Snoozed"),
    ("closed", "Closed"),
]
PILES = ("overdue", "today", "upcoming", "snoozed")


@dataclass
class Pile:
    name: str
    label: str
    ctas: list[Cta]
    count: int
    see_all: str

    @property
    def more(self) -> int:
        return self.count - len(self.ctas)


def my_ctas(user: User, today: dt.date, size: int = PILE_SIZE) -> list[Pile]:
    """The user's open CTAs in the cockpit's four piles: one count query for all four, then
    each pile's first rows, so the page costs the same for 10 CTAs or 100,000."""
    mine = Cta.objects.filter(owner=user, closed_at__isnull=True)
    counts = mine.aggregate(**{name: Count("pk", filter=state_condition(name, today)) for name in PILES})
    labels = dict(STATES)
    piles = []
    for name in PILES:
        order = ("snoozed_until", "pk") if name == "snoozed" else (F("due_date").asc(nulls_last=True), "pk")
        rows = list(
            mine.filter(state_condition(name, today))
            .select_related("account", "type", "reason", "status", "owner")
            .order_by(*order)[:size]
            if counts[name]
            else []
        )
        query = urlencode({"owner": user.username, "state": name})
        piles.append(Pile(name, labels[name], rows, counts[name], f"{reverse('cockpit:cta_list')}?{query}"))
    return piles


def has_reports(user: User) -> bool:
    return user.is_authenticated and User.objects.filter(manager=user).exists()


def closed_statuses_for(cta: Cta) -> QuerySet[CtaStatus]:
    return CtaStatus.objects.filter(is_closed=True).filter(Q(types=None) | Q(types=cta.type_id))


def cta_page(pk: int) -> Cta:
    return Cta.objects.select_related("account", "type", "reason", "status", "owner", "playbook").get(pk=pk)


def cta_tasks(cta: Cta) -> list[Task]:
    return list(cta.tasks.select_related("owner"))


def cta_activities(cta: Cta) -> list:
    return list(
        cta.activities.select_related("type", "author").prefetch_related(
            Prefetch("external_attendees", Contact.objects.select_related("persona"))
        )
    )


def tasks() -> QuerySet[Task]:
    return Task.objects.select_related("owner")


def bulk_choices() -> dict:
    """What the list's bulk actions offer: closed statuses and the people who can own a CTA."""
    return {
        "bulk_statuses": list(CtaStatus.objects.filter(is_closed=True)),
        "bulk_owners": list(possible_owners()),
    }


def possible_owners() -> QuerySet[User]:
    """People who may own a CTA: active, not a pool, allowed to work CTAs."""
    return User.objects.filter(is_active=True, is_pool=False).filter(
        Q(role__in=PERMISSIONS["work_ctas"]) | Q(is_superuser=True)
    ).order_by("first_name", "last_name", "username")


def user_by_reference(value: str) -> User | None:
    """A person by username, e-mail or full name (any case), as the import finds people."""
    value = value.strip()
    if not value:
        return None
    return (
        User.objects.filter(Q(username__iexact=value) | Q(email__iexact=value)).order_by("pk").first()
        or User.objects.annotate(full_name=Concat("first_name", Value(" "), "last_name"))
        .filter(full_name__iexact=value)
        .order_by("pk")
        .first()
    )
