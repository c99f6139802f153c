"""The per-account feature table the scorecard's expressions read: one row per account.

Account attributes and support-ticket aggregates are copied from the application database into
the analytics store in bulk (Arrow); the latest included usage snapshot is joined there.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from django.db.models import Count, Max, Q, QuerySet
from ibis.backends import BaseBackend

from csops.cockpit.models import PlanStatus, SuccessPlan
from csops.customers.models import Account, SupportTicket
from csops.timeline.models import Activity
from csops.usage.store import SCAN_TYPES, USAGE_COUNTERS, replace_table

ACCOUNT_FEATURES = {
    "account_id": pa.int64(),
    "segment": pa.string(),
    "geo": pa.string(),
    "tier": pa.string(),
    "deployment": pa.string(),
    "csm_priority": pa.string(),
    "arr": pa.float64(),
    "account_licensed_users": pa.int64(),
    "contract_start": pa.date32(),
    "csm_sentiment": pa.string(),
    "csm_sentiment_date": pa.date32(),
    # Filled once the timeline and success plans exist; null means "no data yet".
    "last_meeting_date": pa.date32(),
    "dev_lead_met_90d": pa.bool_(),
    "security_lead_met_90d": pa.bool_(),
    "success_plan_status": pa.string(),
}
TICKET_FEATURES = {"tickets_30d": pa.int64(), "emergency_open": pa.int64(), "emergency_closed_7d": pa.int64()}
USAGE_FEATURES = {
    "usage_date": pa.date32(),
    **{c: pa.int64() for c in USAGE_COUNTERS},
    "scans": pa.int64(),
    "scanner_types": pa.int64(),
}
AccountIds = list[int] | None  # None: every account
SCOPE = "scope_accounts"  # the accounts of a scoped sync

FEATURES = {**ACCOUNT_FEATURES, **TICKET_FEATURES, **USAGE_FEATURES}

ACCOUNT_SOURCE = {
    "account_id": "id",
    "segment": "segment__name",
    "geo": "geo__name",
    "tier": "tier",
    "deployment": "deployment",
    "csm_priority": "csm_priority",
    "arr": "arr",
    "account_licensed_users": "licensed_users",
    "contract_start": "contract_start",
    "csm_sentiment": "csm_sentiment",
    "csm_sentiment_date": "csm_sentiment_date",
}


def _column(values: tuple, kind: pa.DataType) -> pa.Array:
    if kind == pa.float64():
        values = tuple(None if v is None else float(v) for v in values)
    elif kind == pa.string():
        values = tuple(v or None for v in values)
    return pa.array(values, type=kind)


def for_accounts(queryset: QuerySet, account_ids: AccountIds, field: str = "account_id") -> QuerySet:
    return queryset if account_ids is None else queryset.filter(**{f"{field}__in": account_ids})


def account_table(as_of: dt.date, account_ids: AccountIds = None) -> pa.Table:
    """Account attributes and timeline facts as an Arrow table, read in a few queries."""
    names = list(ACCOUNT_SOURCE)
    accounts = for_accounts(Account.objects.order_by(), account_ids, "id")
    rows = list(accounts.values_list(*ACCOUNT_SOURCE.values()))
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    data = {n: _column(c, ACCOUNT_FEATURES[n]) for n, c in zip(names, columns, strict=True)}
    ids = columns[0]
    for name, values in timeline_facts(as_of, account_ids).items():
        data[name] = pa.array([values.get(i) for i in ids], type=ACCOUNT_FEATURES[name])
    plans = success_plan_status(as_of, account_ids)
    data["success_plan_status"] = pa.array([plans.get(i, "none") for i in ids], type=pa.string())
    for name in set(ACCOUNT_FEATURES) - set(data):
        data[name] = pa.nulls(len(rows), type=ACCOUNT_FEATURES[name])
    return pa.table(data, schema=pa.schema(ACCOUNT_FEATURES.items()))


def success_plan_status(as_of: dt.date, account_ids: AccountIds = None) -> dict[int, str]:
    """'active' with an active plan that has an objective, else 'draft' with a draft plan; the rest
    of the accounts have none ("no plan or no objectives" is red on the scorecard)."""

    plans = for_accounts(SuccessPlan.objects.filter(created_at__date__lte=as_of).order_by(), account_ids)
    status = dict.fromkeys(
        plans.filter(status=PlanStatus.DRAFT).values_list("account_id", flat=True), "draft"
    )
    active = plans.filter(status=PlanStatus.ACTIVE, objectives__isnull=False)
    status.update(dict.fromkeys(active.values_list("account_id", flat=True), "active"))
    return status


PERSONA_FEATURES = {"dev_lead_met_90d": "Dev Lead", "security_lead_met_90d": "Security Lead"}


def timeline_facts(as_of: dt.date, account_ids: AccountIds = None) -> dict[str, dict[int, object]]:
    """Per account, from the timeline as of a date: the last call or meeting, and whether a Dev
    Lead and a Security Lead attended one in the last 90 days. An account with no activity at
    all has no value (no data), rather than False."""

    upto = for_accounts(Activity.objects.filter(date__lte=as_of).order_by(), account_ids)
    meetings = upto.filter(type__counts_as_meeting=True)
    facts: dict[str, dict[int, object]] = {
        "last_meeting_date": dict(
            meetings.values("account_id").annotate(last=Max("date")).values_list("account_id", "last")
        ),
    }
    known = set(upto.values_list("account_id", flat=True).distinct())
    recent = meetings.filter(date__gt=as_of - dt.timedelta(days=90))
    for name, persona in PERSONA_FEATURES.items():
        met = set(
            recent.filter(external_attendees__persona__name=persona)
            .values_list("account_id", flat=True)
            .distinct()
        )
        facts[name] = {account_id: account_id in met for account_id in known}
    return facts


def ticket_table(as_of: dt.date, account_ids: AccountIds = None) -> pa.Table:
    """Support aggregates per account as of a date, computed by the database in one GROUP BY."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    month_ago, week_ago = end - dt.timedelta(days=30), end - dt.timedelta(days=7)
    opened = Q(opened_at__lt=end)
    still_open = Q(closed_at__isnull=True) | Q(closed_at__gte=end)
    rows = list(
        for_accounts(SupportTicket.objects.filter(opened).order_by(), account_ids)
        .values_list("account_id")
        .annotate(
            tickets_30d=Count("pk", filter=Q(opened_at__gte=month_ago)),
            emergency_open=Count("pk", filter=Q(is_emergency=True) & still_open),
            emergency_closed_7d=Count(
                "pk", filter=Q(is_emergency=True, closed_at__gte=week_ago, closed_at__lt=end)
            ),
        )
    )
    names = ["account_id", *TICKET_FEATURES]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    schema = pa.schema([("account_id", pa.int64()), *TICKET_FEATURES.items()])
    return pa.table(
        {n: pa.array(c, type=schema.field(n).type) for n, c in zip(names, columns, strict=True)},
        schema=schema,
    )


def sync(con: BaseBackend, as_of: dt.date, account_ids: AccountIds = None) -> None:
    """Copy what the scorecard needs from the application database into the store: every
    account's, or only some accounts' (then the feature table must be read for those only)."""
    replace_table(con, "health_accounts", account_table(as_of, account_ids))
    replace_table(con, "health_tickets", ticket_table(as_of, account_ids))
    if account_ids is not None:
        replace_table(con, SCOPE, pa.table({"account_id": pa.array(account_ids, pa.int64())}))


def latest_usage(usage: ir.Table, as_of: dt.date, scope: ir.Table | None = None) -> ir.Table:
    """Each account's newest snapshot of its health instances on or before `as_of`.

    Should an account have several included instances reporting on that date, their counters
    are added up, so an account is always one row.
    """
    if scope is not None:
        usage = usage.filter(usage.account_id.isin(scope.account_id))
    included = usage.filter(usage.included_in_health, usage.snapshot_date <= ibis.literal(as_of))
    newest = included.group_by("account_id").aggregate(usage_date=included.snapshot_date.max())
    # Join back to the table itself, not to the filtered relation: referring to `included` twice
    # makes the SQL a shared CTE, which DuckDB materialises whole (about 3 GB at 1M accounts).
    joined = newest.join(
        usage,
        [
            newest.account_id == usage.account_id,
            newest.usage_date == usage.snapshot_date,
            usage.included_in_health,
        ],
    )
    summed = joined.group_by(["account_id", "usage_date"]).aggregate(
        **{name: joined[name].sum() for name in USAGE_COUNTERS}
    )
    scans = [summed[name] for name in SCAN_TYPES]
    return summed.select(
        "account_id",
        "usage_date",
        *USAGE_COUNTERS,
        scans=sum(ibis.coalesce(s, 0) for s in scans[1:]) + ibis.coalesce(scans[0], 0),
        scanner_types=sum(ibis.ifelse(s > 0, 1, 0) for s in scans[1:]) + ibis.ifelse(scans[0] > 0, 1, 0),
    )


def has_usage(con: BaseBackend) -> bool:
    """Whether the store holds usage: the feature table's SQL differs (part of its cache key)."""
    return "usage_snapshots" in con.list_tables()


def feature_table(con: BaseBackend, as_of: dt.date, scoped: bool = False) -> ir.Table:
    """The features of every account synced, over the store's tables. `scoped`: only the accounts
    of the last scoped sync (its ids are a table, so the SQL is the same whatever they are)."""
    accounts = con.table("health_accounts")
    tickets = con.table("health_tickets")
    table = accounts.left_join(tickets, "account_id").select(
        *ACCOUNT_FEATURES,
        **{name: ibis.coalesce(tickets[name], 0) for name in TICKET_FEATURES},
    )
    if has_usage(con):
        usage = latest_usage(con.table("usage_snapshots"), as_of, con.table(SCOPE) if scoped else None)
        table = table.left_join(usage, "account_id").select(
            *ACCOUNT_FEATURES, *TICKET_FEATURES, *USAGE_FEATURES
        )
    else:
        table = table.mutate(
            **{
                name: ibis.null(str(kind).replace("date32[day]", "date"))
                for name, kind in USAGE_FEATURES.items()
            }
        )
    return table
