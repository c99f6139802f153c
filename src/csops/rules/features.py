"""The per-account table rule conditions read: one row per account, as of a date.

It extends the health engine's features (account attributes, support, latest usage) with what
rules need besides: the account team (pools resolved to the member for the account's geo),
renewal and lifecycle, open opportunities, the last activity, the latest survey answer, every
health measure's colour and value now and at the snapshot before (from the health history), and
the CTAs and effects rules have already made. The application database's part is copied to the
analytics store in bulk (Arrow); the rest is joined there, so rule conditions run set-wise over
every account at once.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from django.db.models import Count, F, Max, Q, Window
from django.db.models.functions import RowNumber, TruncDate
from ibis.backends import BaseBackend

from csops.cockpit.models import Cta
from csops.core.models import User
from csops.customers.models import Account, Contact, ForecastCategory, Opportunity
from csops.health import features as health_features
from csops.health.features import AccountIds, for_accounts
from csops.health.scorecard import Scorecard, fingerprint
from csops.programs.models import Enrolment, SurveyResponse
from csops.rules.models import RuleEffect
from csops.timeline.models import Activity
from csops.usage import store
from csops.usage.store import replace_table

TEAM = ("csm", "cse", "ae", "sa", "renewals_manager")
# Program recipients: the admin persona first, else the sold-to contact.
RECIPIENT_PERSONAS = ("GitLab Admin", "Sold-to")

ACCOUNT_COLUMNS = {
    "account_id": ("id", pa.int64()),
    "account_name": ("name", pa.string()),
    "renewal_date": ("renewal_date", pa.date32()),
    "lifecycle_stage": ("lifecycle_stage", pa.string()),
    "sales_segment": ("sales_segment", pa.string()),
    "industry": ("industry", pa.string()),
    "employees": ("employees", pa.int64()),
    "lam": ("lam", pa.float64()),
    "csm_model": ("segment__csm_model", pa.string()),
    "parent_id": ("parent_id", pa.int64()),
    **{f"{role}_id": (f"{role}_id", pa.int64()) for role in TEAM},
}
ACCOUNT_COLUMNS_TYPES = {name: kind for name, (_, kind) in ACCOUNT_COLUMNS.items()}
ACTIVITY_COLUMNS = {"last_activity_date": pa.date32()}
OPPORTUNITY_COLUMNS = {"open_opportunities": pa.int64(), "open_opportunity_max_arr": pa.float64()}
# The account's latest survey answer: kind nps or csat; category promoter, passive, detractor
# (NPS) or satisfied, neutral, dissatisfied (CSAT).
SURVEY_COLUMNS = {
    "last_survey_response_id": pa.int64(),
    "last_survey_kind": pa.string(),
    "last_survey_score": pa.int64(),
    "last_survey_category": pa.string(),
    "last_survey_on": pa.date32(),
}
HEALTH_COLUMNS = {
    "health_scored_on": pa.date32(),
    "health_score": pa.float64(),
    "health_color": pa.string(),
    "previous_health_scored_on": pa.date32(),
    "previous_health_score": pa.float64(),
    "previous_health_color": pa.string(),
}
DERIVED_COLUMNS = {
    "csm_assigned": pa.bool_(),
    "csm_pool": pa.bool_(),
    **{f"{role}_owner": pa.int64() for role in TEAM},
    "csm_manager_owner": pa.int64(),
}
COLORS = ("red", "yellow", "green")
# The tables rules read besides the features (one row per account), and the survey table the
# features join.
SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "rules_surveys": {"account_id": pa.int64(), **SURVEY_COLUMNS},
    "rules_users": {
        "user_id": pa.int64(),
        "is_pool": pa.bool_(),
        "is_active": pa.bool_(),
        "manager_id": pa.int64(),
    },
    "rules_pool_slots": {
        "pool_id": pa.int64(),
        "pool_geo": pa.string(),
        "slot": pa.int64(),
        "slots": pa.int64(),
        "member_id": pa.int64(),
    },
    "rules_ctas": {
        "rule": pa.string(),
        "account_id": pa.int64(),
        "open_ctas": pa.int64(),
        "closed_ctas": pa.int64(),
        "last_closed_at": pa.timestamp("us", tz="UTC"),
    },
    "rules_known_keys": {"key": pa.string()},
    "rules_open_ctas": {
        "account_id": pa.int64(),
        "type": pa.string(),
        "reason": pa.string(),
        "rule": pa.string(),
        "cta_id": pa.int64(),
    },
    "rules_recipients": {
        "account_id": pa.int64(),
        "contact_id": pa.int64(),
        "persona": pa.string(),
        "opted_out": pa.bool_(),
    },
}


def measure_columns(scorecard: Scorecard) -> dict[str, pa.DataType]:
    columns = {}
    for measure in scorecard.measures:
        columns |= {
            f"{measure.key}_color": pa.string(),
            f"{measure.key}_value": pa.float64(),
            f"{measure.key}_previous_color": pa.string(),
            f"{measure.key}_previous_value": pa.float64(),
        }
    return columns


def feature_schema(scorecard: Scorecard) -> dict[str, pa.DataType]:
    """Every name a rule condition may use, with its type."""
    return {
        **health_features.FEATURES,
        **ACCOUNT_COLUMNS_TYPES,
        **ACTIVITY_COLUMNS,
        **OPPORTUNITY_COLUMNS,
        **SURVEY_COLUMNS,
        **HEALTH_COLUMNS,
        **DERIVED_COLUMNS,
        **measure_columns(scorecard),
    }


# --- copying the application database's part ----------------------------------------------------


def _arrow(rows: list[tuple], schema: dict[str, pa.DataType]) -> pa.Table:
    names = list(schema)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pa.table(
        {n: health_features._column(c, schema[n]) for n, c in zip(names, columns, strict=True)},
        schema=pa.schema(schema.items()),
    )


def _day_end(as_of: dt.date) -> dt.datetime:
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def account_rows(account_ids: AccountIds) -> pa.Table:
    rows = for_accounts(Account.objects.order_by(), account_ids, "id").values_list(
        *(source for source, _ in ACCOUNT_COLUMNS.values())
    )
    return _arrow(list(rows), ACCOUNT_COLUMNS_TYPES)


def activity_rows(as_of: dt.date, account_ids: AccountIds) -> pa.Table:
    rows = (
        for_accounts(Activity.objects.filter(date__lte=as_of).order_by(), account_ids)
        .values("account_id")
        .annotate(last=Max("date"))
        .values_list("account_id", "last")
    )
    return _arrow(list(rows), {"account_id": pa.int64(), **ACTIVITY_COLUMNS})


def opportunity_rows(as_of: dt.date, account_ids: AccountIds) -> pa.Table:
    """Opportunities open on the date: created by then, closing on or after it, not closed or omitted."""
    opened = Opportunity.objects.filter(created_at__lt=_day_end(as_of), close_date__gte=as_of).exclude(
        forecast_category__in=[ForecastCategory.CLOSED, ForecastCategory.OMITTED]
    )
    rows = (
        for_accounts(opened.order_by(), account_ids)
        .values("account_id")
        .annotate(n=Count("pk"), largest=Max("net_arr"))
        .values_list("account_id", "n", "largest")
    )
    return _arrow(list(rows), {"account_id": pa.int64(), **OPPORTUNITY_COLUMNS})


def survey_rows(as_of: dt.date, account_ids: AccountIds) -> pa.Table:
    """Each account's latest survey answer given by the end of the date."""
    given = SurveyResponse.objects.filter(created_at__lt=_day_end(as_of)).order_by()
    newest_first = [F("created_at").desc(), F("pk").desc()]
    rows = (
        for_accounts(given, account_ids)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("account_id")], order_by=newest_first),
            on=TruncDate("created_at"),
        )
        .filter(rank=1)
        .values_list("account_id", "pk", "survey__kind", "score", "category", "on")
    )
    return _arrow(list(rows), SCHEMAS["rules_surveys"])


def user_rows() -> pa.Table:
    rows = User.objects.order_by().values_list("id", "is_pool", "is_active", "manager_id")
    return _arrow(list(rows), SCHEMAS["rules_users"])


def pool_slot_rows() -> pa.Table:
    """Each pool's active members per geo, numbered: an account goes to member (id mod count)."""
    members = (
        User.objects.filter(pool__isnull=False, is_active=True, is_pool=False, geo__isnull=False)
        .order_by("pool_id", "geo__name", "username")
        .values_list("pool_id", "geo__name", "id")
    )
    groups: dict[tuple[int, str], list[int]] = {}
    for pool_id, geo, user_id in members:
        groups.setdefault((pool_id, geo), []).append(user_id)
    rows = [
        (pool_id, geo, slot, len(ids), user_id)
        for (pool_id, geo), ids in groups.items()
        for slot, user_id in enumerate(ids)
    ]
    return _arrow(rows, SCHEMAS["rules_pool_slots"])


def _open_on(as_of: dt.date) -> Q:
    end = _day_end(as_of)
    return Q(created_at__lt=end) & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))


def rule_cta_rows(as_of: dt.date, account_ids: AccountIds) -> pa.Table:
    """Per rule and account, the CTAs the rule raised: open now, closed so far, last closed."""
    end = _day_end(as_of)
    closed = Q(closed_at__lt=end)
    rows = (
        for_accounts(Cta.objects.filter(source="rule", created_at__lt=end).order_by(), account_ids)
        .values("source_ref", "account_id")
        .annotate(
            open=Count("pk", filter=~closed),
            closed=Count("pk", filter=closed),
            last_closed=Max("closed_at", filter=closed),
        )
        .values_list("source_ref", "account_id", "open", "closed", "last_closed")
    )
    return _arrow(list(rows), SCHEMAS["rules_ctas"])


def known_key_rows(account_ids: AccountIds) -> pa.Table:
    """Keys already used: CTAs rules raised, notifications sent, enrolments made."""
    ctas = for_accounts(Cta.objects.filter(source="rule", dedupe_key__isnull=False).order_by(), account_ids)
    effects = for_accounts(RuleEffect.objects.order_by(), account_ids)
    enrolments = for_accounts(Enrolment.objects.order_by(), account_ids)
    keys = [
        *ctas.values_list("dedupe_key", flat=True),
        *effects.values_list("key", flat=True),
        *enrolments.values_list("key", flat=True),
    ]
    return pa.table(
        {"key": pa.array(keys, pa.string())}, schema=pa.schema(SCHEMAS["rules_known_keys"].items())
    )


def open_cta_rows(as_of: dt.date, account_ids: AccountIds) -> pa.Table:
    rows = for_accounts(Cta.objects.filter(_open_on(as_of)).order_by(), account_ids).values_list(
        "account_id", "type__name", "reason__name", "source_ref", "pk"
    )
    return _arrow(list(rows), SCHEMAS["rules_open_ctas"])


def recipient_rows(account_ids: AccountIds) -> pa.Table:
    rows = for_accounts(
        Contact.objects.filter(persona__name__in=RECIPIENT_PERSONAS).order_by(), account_ids
    ).values_list("account_id", "pk", "persona__name", "email_opt_out")
    return _arrow(list(rows), SCHEMAS["rules_recipients"])


TABLES = {
    "rules_accounts": lambda as_of, ids: account_rows(ids),
    "rules_activity": activity_rows,
    "rules_opportunities": opportunity_rows,
    "rules_surveys": survey_rows,
    "rules_users": lambda as_of, ids: user_rows(),
    "rules_pool_slots": lambda as_of, ids: pool_slot_rows(),
    "rules_ctas": rule_cta_rows,
    "rules_known_keys": lambda as_of, ids: known_key_rows(ids),
    "rules_open_ctas": open_cta_rows,
    "rules_recipients": lambda as_of, ids: recipient_rows(ids),
}


def sync(con: BaseBackend, as_of: dt.date, account_ids: AccountIds = None) -> None:
    """Copy what rules read from the application database into the store (all or some accounts)."""
    ids = None if account_ids is None else sorted(set(account_ids))
    health_features.sync(con, as_of, ids)
    for name, rows in TABLES.items():
        replace_table(con, name, rows(as_of, ids))


# --- the feature table ------------------------------------------------------------------------


def _color_name(code: ir.IntegerValue) -> ir.StringValue:
    return ibis.cases(*[(code == i, name) for i, name in enumerate(COLORS)], else_=ibis.null("string"))


def health_as_of(con: BaseBackend, scorecard: Scorecard, as_of: dt.date, scoped: bool = False) -> ir.Table:
    """Each account's latest health snapshot on or before the date, and the snapshot before it, wide.

    History keeps only changes, each change with every item, so "previous" is the change before.
    """
    history = con.table("health_history")
    if scoped:
        history = history.filter(history.account_id.isin(con.table(health_features.SCOPE).account_id))
    history = history.filter(history.scorecard == scorecard.name, history.scored_on <= ibis.literal(as_of))
    scores = history.filter(history.item == "score").select("account_id", "scored_on")
    latest = scores.group_by("account_id").aggregate(current=scores.scored_on.max())
    before = scores.join(latest, "account_id")
    before = before.filter(before.scored_on < before.current)
    previous = before.group_by("account_id").aggregate(previous=before.scored_on.max())
    dates = latest.left_join(previous, "account_id").select("account_id", "current", "previous")
    rows = history.join(dates, "account_id")
    rows = rows.filter((rows.scored_on == rows.current) | (rows.scored_on == rows.previous))
    now, then = rows.scored_on == rows.current, rows.scored_on == rows.previous
    columns = {
        "health_scored_on": rows.current.max(),
        "previous_health_scored_on": rows.previous.max(),
        "health_score": rows.value.max(where=now & (rows.item == "score")),
        "health_code": rows.color.max(where=now & (rows.item == "score")),
        "previous_health_score": rows.value.max(where=then & (rows.item == "score")),
        "previous_health_code": rows.color.max(where=then & (rows.item == "score")),
    }
    for measure in scorecard.measures:
        key, is_key = measure.key, rows.item == measure.key
        columns |= {
            f"{key}_code": rows.color.max(where=now & is_key),
            f"{key}_value": rows.value.max(where=now & is_key),
            f"{key}_previous_code": rows.color.max(where=then & is_key),
            f"{key}_previous_value": rows.value.max(where=then & is_key),
        }
    wide = rows.group_by("account_id").aggregate(**columns)
    colors = {"health_color": "health_code", "previous_health_color": "previous_health_code"}
    for measure in scorecard.measures:
        colors |= {
            f"{measure.key}_color": f"{measure.key}_code",
            f"{measure.key}_previous_color": f"{measure.key}_previous_code",
        }
    return wide.mutate(**{name: _color_name(wide[code]) for name, code in colors.items()})


def _owner(table: ir.Table, users: ir.Table, slots: ir.Table, role: str) -> ir.Table:
    """`<role>_owner`: the team member, or for a pool the member who serves the account's geo."""
    user = users.select(u_id=users.user_id, u_pool=users.is_pool, u_active=users.is_active)
    joined = table.left_join(user, table[f"{role}_id"] == user.u_id)
    slot = slots.select(
        s_pool=slots.pool_id,
        s_geo=slots.pool_geo,
        s_slot=slots.slot,
        s_slots=slots.slots,
        s_member=slots.member_id,
    )
    joined = joined.left_join(
        slot,
        [
            joined[f"{role}_id"] == slot.s_pool,
            joined.geo == slot.s_geo,
            (joined.account_id % slot.s_slots) == slot.s_slot,
        ],
    )
    owner = ibis.cases(
        (joined.u_pool, joined.s_member),
        (joined.u_active, joined[f"{role}_id"]),
        else_=ibis.null("int64"),
    )
    return joined.mutate(**{f"{role}_owner": owner.cast("int64")}).drop(
        "u_id", "u_pool", "u_active", "s_pool", "s_geo", "s_slot", "s_slots", "s_member"
    )


def team_table(con: BaseBackend) -> ir.Table:
    """Each account's team with owners resolved: narrow, so its joins stay cheap to compile."""
    table = con.table("rules_accounts")
    users, slots = con.table("rules_users"), con.table("rules_pool_slots")
    geo = con.table("health_accounts").select("account_id", "geo")
    table = table.left_join(geo, "account_id").drop("account_id_right")
    for role in TEAM:
        table = _owner(table, users, slots, role)
    managers = users.select(m_id=users.user_id, m_manager=users.manager_id)
    table = table.left_join(managers, table.csm_owner == managers.m_id)
    table = table.mutate(csm_manager_owner=table.m_manager).drop("m_id", "m_manager")
    csm_user = users.select(c_id=users.user_id, c_pool=users.is_pool)
    table = table.left_join(csm_user, table.csm_id == csm_user.c_id)
    return table.mutate(
        csm_pool=ibis.coalesce(table.c_pool, False),
        csm_assigned=table.csm_id.notnull() & ~ibis.coalesce(table.c_pool, False),
    ).drop("c_id", "c_pool", "geo")


def as_features(con: BaseBackend, scorecard: Scorecard, as_of: dt.date, scoped: bool = False) -> ir.Table:
    """One row per account with every name of `feature_schema`, materialised in the store so each
    rule reads it without recomputing it (`scoped`: only the accounts of the last scoped sync).

    The team and the health snapshots are materialised first: joining them one by one onto the
    wide table would make the SQL, and its planning, huge. Each statement is compiled once per
    process and day (see `store.compiled`).
    """
    key = (fingerprint(scorecard), as_of, scoped, health_features.has_usage(con))
    store.create_table_as(con, "rules_team", store.compiled(con, ("rules_team",), lambda: team_table(con)))
    history = "health_history" in con.list_tables()
    if history:
        health = store.compiled(
            con, ("rules_health", *key), lambda: health_as_of(con, scorecard, as_of, scoped)
        )
        store.create_table_as(con, "rules_health", health)
    wide = store.compiled(
        con, ("rules_features", *key, history), lambda: _features(con, scorecard, as_of, scoped, history)
    )
    return store.create_table_as(con, "rules_features", wide)


def _features(
    con: BaseBackend, scorecard: Scorecard, as_of: dt.date, scoped: bool, history: bool
) -> ir.Table:
    table = health_features.feature_table(con, as_of, scoped)
    for name in ["rules_team", "rules_activity", "rules_opportunities", "rules_surveys"] + (
        ["rules_health"] if history else []
    ):
        table = table.left_join(con.table(name), "account_id").drop("account_id_right")
    table = table.mutate(open_opportunities=ibis.coalesce(table.open_opportunities, 0))
    schema = feature_schema(scorecard)
    missing = {n: ibis.null(str(ibis.dtype(kind))) for n, kind in schema.items() if n not in table.columns}
    return table.mutate(**missing).select(*schema)


def empty_features(scorecard: Scorecard) -> ir.Table:
    """An empty feature table, to check rule expressions against the names and their types."""
    schema = pa.schema(feature_schema(scorecard).items())
    return ibis.memtable(schema.empty_table())
