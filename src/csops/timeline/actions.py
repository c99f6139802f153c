"""Writes to the timeline."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction

from csops.core.actions import create_object
from csops.core.models import User
from csops.customers.models import Account, Contact
from csops.timeline.models import Activity, ActivityType
from csops.usage.synthetic import account_fit


@transaction.atomic
def log_activity(
    account: Account,
    *,
    author: User | None,
    type: ActivityType,
    subject: str,
    date: dt.date,
    notes: str = "",
    sentiment: str = "",
    internal_attendees: list[User] = (),
    external_attendees: list[Contact] = (),
    source: str = "web",
) -> Activity:
    """Log an activity; external attendees must be the account's own contacts."""
    strangers = [c for c in external_attendees if c.account_id != account.pk]
    if strangers:
        raise ValidationError({"external_attendees": f"{strangers[0]} is not a contact of {account}."})
    activity = create_object(
        Activity,
        actor=author,
        source=source,
        account=account,
        author=author,
        type=type,
        subject=subject,
        date=date,
        notes=notes,
        sentiment=sentiment,
    )
    activity.internal_attendees.set(internal_attendees)
    activity.external_attendees.set(external_attendees)
    return activity


def seed_activities(*, end: dt.date, seed: int = 1, days: int = 180) -> int:
    """Synthetic calls and meetings for CSM-managed accounts; well-fitting accounts meet more often.

    Re-running replaces the synthetic activities (those without an author)."""

    rng = random.Random(seed)
    types = {t.name: t for t in ActivityType.objects.filter(counts_as_meeting=True)}
    if not types:
        return 0
    accounts = list(
        Account.objects.filter(csm__isnull=False, csm__is_pool=False).values_list("pk", flat=True)
    )
    fits = (
        dict(zip(accounts, account_fit(np.array(accounts, np.int64), seed), strict=True)) if accounts else {}
    )
    contacts: dict[int, list[int]] = {}
    for contact_id, account_id in Contact.objects.filter(account_id__in=accounts).values_list(
        "pk", "account_id"
    ):
        contacts.setdefault(account_id, []).append(contact_id)
    activities, attendees = [], []
    for account_id in accounts:
        gap = 20 + (1 - fits[account_id]) * 80  # days between meetings
        day = end - dt.timedelta(days=rng.uniform(0, gap))
        while (end - day).days < days:
            kind = rng.choice(
                ["Cadence Call", "Cadence Call", "Customer Call", "In-Person Meeting", "Workshop"]
            )
            activities.append(
                Activity(
                    account_id=account_id,
                    type=types.get(kind, next(iter(types.values()))),
                    subject=f"{kind} with the team",
                    date=day,
                    sentiment=rng.choice(["green", "green", "yellow", "red"]),
                )
            )
            people = contacts.get(account_id, [])
            attendees.append(rng.sample(people, min(len(people), rng.randint(1, 3))) if people else [])
            day -= dt.timedelta(days=rng.uniform(0.6, 1.4) * gap)
    with transaction.atomic():
        Activity.objects.filter(author__isnull=True, account_id__in=accounts).delete()
        Activity.objects.bulk_create(activities, batch_size=2000)
        through = Activity.external_attendees.through
        through.objects.bulk_create(
            [
                through(activity_id=a.pk, contact_id=c)
                for a, people in zip(activities, attendees, strict=True)
                for c in people
            ],
            batch_size=5000,
        )
    return len(activities)
