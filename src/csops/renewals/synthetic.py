"""The demo's renewals: thirteen monthly ARR snapshots ending this month, with expansion,
contraction, churn and new logos, so retention has something to measure (it ends at today's ARR;
the churned customers' accounts are set to no ARR); and the renewal pipeline as a team works it."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from csops.core.bulk import insert_rows
from csops.customers.models import Account, Opportunity, OpportunityType
from csops.health.models import HealthUpdate
from csops.renewals.actions import first_of_month, months_before, top_level_parents
from csops.renewals.models import ArrSnapshot


@transaction.atomic
def seed_arr_history(months: int = 12, seed: int = 1) -> int:
    """Snapshots for this month and the `months` before it (none if any exist). About one in
    fifteen customers churned in the year (ARR kept until its last month), accounts younger than
    the year start then, the rest moved between -30% and +50%."""
    if ArrSnapshot.objects.exists():
        return 0
    rng = random.Random(seed)
    now = first_of_month(dt.date.today())
    accounts = list(
        Account.objects.values_list(
            "pk",
            "parent_id",
            "arr",
            "segment__name",
            "geo__name",
            "csm__username",
            "contract_start",
            "renewal_date",
        )
    )
    roots = top_level_parents({pk: parent for pk, parent, *_ in accounts})
    rows, churned = [], []
    for pk, _, arr, segment, geo, csm, started, renewal in accounts:
        growth = Decimal(str(round(rng.uniform(-0.3, 0.5), 3)))
        churned_at = rng.randrange(1, months) if rng.random() < 1 / 15 else None
        if churned_at is not None:
            churned.append(pk)
        begin = arr / (1 + growth) if arr else Decimal(0)
        for back in range(months, -1, -1):
            month = months_before(now, back)
            if started and started > month:
                continue  # not a customer yet: a new logo
            if churned_at is not None and back < churned_at:
                value = Decimal(0)
            else:
                value = begin + (arr - begin) * Decimal(months - back) / months
            rows.append(
                {
                    "month": month,
                    "account_id": pk,
                    "arr": round(value, 2),
                    "parent_id_then": roots[pk],
                    "segment": segment or "",
                    "geo": geo or "",
                    "csm": csm or "",
                    "renewal_date": renewal,
                }
            )
    for start in range(0, len(rows), 5000):
        insert_rows(ArrSnapshot, rows[start : start + 5000])
    # The churned customers' accounts have no ARR now either, so this month's scheduled snapshot
    # agrees with the history.
    Account.objects.filter(pk__in=churned).update(arr=0)
    return len(rows)


NEXT_STEPS = (
    "Confirm the renewal quote with procurement",
    "EBR with the economic buyer",
    "Send the usage review before the QBR",
    "Agree the seat count with the champion",
    "Walk through the upgrade path to Ultimate",
)
RISK_UPDATES = (
    ("green", "On track: champion confirmed budget", ""),
    ("yellow", "Adoption stalled in two teams", "Enablement session on CI"),
    ("red", "Sponsor left; renewal owner unclear", "Exec sponsor call"),
)


def seed_pipeline(seed: int = 1, today: dt.date | None = None) -> int:
    """Work the demo's open renewals as a renewals team would: a due date on every renewal, a
    named DRI on a third, a next step and risk updates on this and next quarter's, monthly ones on
    the rest; a few are stale or were never made, so they are flagged overdue. Returns the open
    renewals worked; none if done before."""
    from csops.renewals.actions import log_risk_update, update_renewal
    from csops.renewals.selectors import OPEN, policy, soon_until

    renewals = Opportunity.objects.filter(type=OpportunityType.RENEWAL)
    if renewals.filter(renewal_due__isnull=False).exists():
        return 0
    rng = random.Random(seed)
    today = today or dt.date.today()
    soon_end = soon_until(today, policy())
    with transaction.atomic():
        _due_dates(rng, renewals)
        open_renewals = list(
            renewals.filter(OPEN)
            .select_related("account__csm", "account__renewals_manager")
            .order_by("close_date", "pk")
        )
        for number, renewal in enumerate(open_renewals):
            author = renewal.account.csm or renewal.account.renewals_manager
            if author is None:
                continue
            soon = renewal.close_date < soon_end
            step = {"renewal_dri": author} if number % 3 == 0 else {}
            if soon:
                step["next_step"] = NEXT_STEPS[number % len(NEXT_STEPS)]
                step["next_step_date"] = today + dt.timedelta(days=rng.randint(2, 20))
            if rng.random() < 0.1:  # never updated: flagged overdue
                if step:
                    update_renewal(renewal, actor=author, **step)
                continue
            sentiment, summary, needed = RISK_UPDATES[
                2 if renewal.account.health_color == "red" else rng.choice((0, 0, 1))
            ]
            update = log_risk_update(
                renewal, author=author, sentiment=sentiment, summary=summary, needed=needed, **step
            )
            # A weekly update twelve days old is overdue, and so is a monthly one of forty-five.
            days_ago = rng.choice((1, 2, 4, 6, 12) if soon else (3, 9, 18, 26, 45))
            HealthUpdate.objects.filter(pk=update.pk).update(
                created_at=timezone.now() - dt.timedelta(days=days_ago)
            )
    return len(open_renewals)


def _due_dates(rng: random.Random, renewals) -> None:
    """The contract end each renewal is for: the open ones close on it; of the closed ones, about
    one in six closed after it."""
    rows = list(renewals.only("pk", "close_date", "stage"))
    for row in rows:
        late = row.stage.startswith("Closed") and rng.random() < 0.17
        offset = -rng.randint(3, 40) if late else rng.randint(0, 14)  # the due date, from the close
        row.renewal_due = row.close_date + dt.timedelta(days=offset)
    Opportunity.objects.bulk_update(rows, ["renewal_due"], batch_size=2000)


HANDOFF_STORY = {
    "why_they_bought": "Consolidate five CI tools into one platform before the audit.",
    "primary_use_case": "CI",
    "value_driver": "Faster releases",
    "metrics": "Lead time for changes under a day by Q3.",
    "risks": "The platform team is stretched; the champion is new.",
    "recommended_features": "Merge request pipelines, the security dashboard.",
}


def seed_handoffs() -> tuple[int, int]:
    """The handoffs of the demo's recent wins, as the daily job opens them: about half filled in
    by their AEs, a quarter half-done, the rest untouched; then the AEs' reminders of what is
    missing. Returns (handoffs opened, reminders queued); (0, 0) if handoffs exist."""
    from csops.renewals.handoff import open_handoffs, remind_aes, update_handoff
    from csops.renewals.models import Handoff

    if Handoff.objects.exists():
        return 0, 0
    opened = open_handoffs()
    handoffs = Handoff.objects.select_related("account__ae").order_by("pk")
    for number, handoff in enumerate(handoffs):
        if number % 4 == 3:
            continue
        story = HANDOFF_STORY if number % 4 < 2 else dict(list(HANDOFF_STORY.items())[:3])
        contacts = list(handoff.account.contacts.order_by("pk")[:2]) if number % 4 < 2 else []
        update_handoff(handoff, actor=handoff.account.ae, key_contacts=contacts, **story)
    return opened, remind_aes()
