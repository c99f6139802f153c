"""Writes of the renewals app: the monthly ARR snapshot, a renewal's pipeline fields and its risk
updates."""

from __future__ import annotations

import datetime as dt
import time

from django.core.exceptions import ValidationError
from django.db import transaction

from csops.core.bulk import insert_rows
from csops.core.models import User
from csops.customers.actions import ImportRejected, record_import_run, update_opportunity, write_error_file
from csops.customers.models import Account, Opportunity, OpportunityType
from csops.renewals.models import ArrSnapshot


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_before(month: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months before `month`'s."""
    year, index = divmod(month.year * 12 + month.month - 1 - n, 12)
    return dt.date(year, index + 1, 1)


def top_level_parents(parents: dict[int, int | None]) -> dict[int, int | None]:
    """Each account's top-level parent (None for a top-level account); cycles stop where they loop."""
    roots: dict[int, int | None] = {}
    for account, parent in parents.items():
        seen, top = {account}, parent
        while top is not None and parents.get(top) is not None and top not in seen:
            seen.add(top)
            top = parents[top]
        roots[account] = top
    return roots


@transaction.atomic
def take_snapshot(month: dt.date) -> int:
    """Every account's ARR, parent, segment, geo, CSM and renewal date as of `month` (its first
    day). Taking a month again replaces it. Returns the rows written."""
    month = first_of_month(month)
    accounts = list(
        Account.objects.values_list(
            "pk", "parent_id", "arr", "segment__name", "geo__name", "csm__username", "renewal_date"
        )
    )
    roots = top_level_parents({pk: parent for pk, parent, *_ in accounts})
    ArrSnapshot.objects.filter(month=month).delete()
    rows = [
        {
            "month": month,
            "account_id": pk,
            "arr": arr,
            "parent_id_then": roots[pk],
            "segment": segment or "",
            "geo": geo or "",
            "csm": csm or "",
            "renewal_date": renewal,
        }
        for pk, _, arr, segment, geo, csm, renewal in accounts
    ]
    for start in range(0, len(rows), 5000):
        insert_rows(ArrSnapshot, rows[start : start + 5000])
    return len(rows)


# What the renewal page edits; the rest of an opportunity comes from the CRM.
RENEWAL_FIELDS = (
    "forecast_category",
    "stage",
    "risk_impact",
    "risk_reason",
    "renewal_dri",
    "next_step",
    "next_step_date",
    "renewal_due",
)


def _check_renewal(opportunity: Opportunity) -> None:
    if opportunity.type != OpportunityType.RENEWAL:
        raise ValidationError({"opportunity": f"{opportunity} is not a renewal."})


@transaction.atomic
def update_renewal(
    opportunity: Opportunity, *, actor: User | None, source: str = "web", **fields
) -> Opportunity:
    """Change a renewal's pipeline fields (forecast category, stage, risk, DRI, next step)."""
    _check_renewal(opportunity)
    unknown = sorted(set(fields) - set(RENEWAL_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: "This field is not edited on a renewal."})
    return update_opportunity(opportunity, actor=actor, source=source, **fields)


@transaction.atomic
def log_risk_update(
    opportunity: Opportunity,
    *,
    author: User,
    sentiment: str,
    summary: str,
    context: str = "",
    needed: str = "",
    source: str = "web",
    **fields,
):
    """A renewal's risk update: a health update on its account (the CSM sentiment, on the
    timeline, next one due at the policy's cadence) and the renewal's risk and next step with it."""
    from csops.health.actions import record_health_update

    _check_renewal(opportunity)
    if fields:
        update_renewal(opportunity, actor=author, source=source, **fields)
    return record_health_update(
        opportunity.account,
        author=author,
        sentiment=sentiment,
        summary=summary,
        context=context,
        needed=needed,
    )


def import_arr_history(
    validation, *, actor: User | None, file_name: str, partial: bool = False, error_path=None, **_
):
    """Write imported monthly ARR rows: all or nothing, unless `partial`. A row replaces the
    account's snapshot of that month; what a row leaves out (parent, segment, geo, CSM, renewal
    date) is taken from the account as it is now, as the scheduled snapshot does."""
    started = time.monotonic()
    if validation.errors and not partial:
        raise ImportRejected(validation.errors)
    rows = [r.values for r in validation.valid_rows]
    ids = {r["account"] for r in rows}
    current = {
        pk: (parent, segment or "", geo or "", csm or "", renewal)
        for pk, parent, segment, geo, csm, renewal in Account.objects.filter(pk__in=ids).values_list(
            "pk", "parent_id", "segment__name", "geo__name", "csm__username", "renewal_date"
        )
    }
    roots = top_level_parents(dict(Account.objects.values_list("pk", "parent_id")))
    snapshots = []
    for row in rows:
        _, segment, geo, csm, renewal = current[row["account"]]
        snapshots.append(
            {
                "account_id": row["account"],
                "month": row["month"],
                "arr": row["arr"],
                "parent_id_then": row["parent_id"] if "parent_id" in row else roots.get(row["account"]),
                "segment": row.get("segment", segment),
                "geo": row.get("geo", geo),
                "csm": row.get("csm", csm),
                "renewal_date": row.get("renewal_date", renewal),
            }
        )
    with transaction.atomic():
        replaced = 0
        for month in {s["month"] for s in snapshots}:
            accounts = [s["account_id"] for s in snapshots if s["month"] == month]
            for start in range(0, len(accounts), 900):
                replaced += ArrSnapshot.objects.filter(
                    month=month, account_id__in=accounts[start : start + 900]
                ).delete()[0]
        for start in range(0, len(snapshots), 5000):
            insert_rows(ArrSnapshot, snapshots[start : start + 5000])
        run = record_import_run(validation, actor=actor, file_name=file_name, partial=partial,
                                created=len(snapshots) - replaced, updated=replaced, started=started)
    if validation.errors and error_path is not None:
        write_error_file(validation, error_path)
    return run
