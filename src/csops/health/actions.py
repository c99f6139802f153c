"""Scoring: every account in one set-oriented pass, history kept as changes only."""

from __future__ import annotations

import datetime as dt
import time

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, transaction
from django.utils import timezone

from csops.core.actions import create_object
from csops.customers.actions import update_account
from csops.customers.models import Account
from csops.health import backtest, features, synthetic
from csops.health.engine import score_table
from csops.health.models import AccountHealth, Backtest, HealthUpdate, Outcome, ScoreHistory, ScoreRun
from csops.health.scorecard import Scorecard, fingerprint
from csops.health.selectors import active_scorecard
from csops.renewals.selectors import update_interval
from csops.timeline.actions import log_activity
from csops.timeline.models import ActivityType
from csops.usage import store

BATCH = 5000
HEALTH_UPDATE_ACTIVITY = "Health Update"  # the timeline activity type a health update is logged as


def update_cadence(account: Account, today: dt.date) -> dt.timedelta:
    """The renewal policy's: weekly when the renewal falls in this fiscal quarter or the next, else
    monthly."""
    return update_interval(account.renewal_date, today)


@transaction.atomic
def record_health_update(
    account: Account,
    *,
    author,
    sentiment: str,
    summary: str,
    context: str = "",
    needed: str = "",
    next_date: dt.date | None = None,
) -> HealthUpdate:
    """Log a health update and set the account's CSM sentiment from it."""
    today = timezone.localdate()
    update = create_object(
        HealthUpdate,
        actor=author,
        account=account,
        author=author,
        sentiment=sentiment,
        summary=summary,
        context=context,
        needed=needed,
        next_date=next_date or today + update_cadence(account, today),
    )
    update_account(account, actor=author, csm_sentiment=sentiment, csm_sentiment_date=today)
    # On the timeline too, where the account team reads the story; skipped if the type is removed.
    if kind := ActivityType.objects.filter(name=HEALTH_UPDATE_ACTIVITY).first():
        notes = "\n\n".join(part for part in (context, needed and f"Needed: {needed}") if part)
        log_activity(account, author=author, type=kind, subject=summary, date=today, notes=notes,
                     sentiment=sentiment)
    return update


def compute_scores(
    con, scorecard: Scorecard, as_of: dt.date, account_ids: features.AccountIds = None
) -> pa.Table:
    """Sync the inputs and score every account (or some); returns one wide row per account."""
    features.sync(con, as_of, account_ids)
    scoped = account_ids is not None
    scores = store.compiled(
        con,
        ("scores", fingerprint(scorecard), as_of, scoped, features.has_usage(con)),
        lambda: score_table(scorecard, features.feature_table(con, as_of, scoped), as_of),
    )
    return store.query(con, scores)


def _changed(con, scores: pa.Table) -> pa.Table:
    """Rows whose score, colour or any measure differs from the account's current snapshot."""
    if "health_current" not in con.list_tables():
        return scores
    current = con.table("health_current")
    if set(current.columns) != set(scores.column_names):
        return scores  # the scorecard changed shape: every account gets a new snapshot
    store.replace_table(con, "health_incoming", scores)

    def changed() -> ibis.Table:
        new = con.table("health_incoming")
        # Only the incoming accounts' current rows: a few accounts need not scan a million.
        current = con.table("health_current").filter(lambda t: t.account_id.isin(new.account_id))
        compared = [c for c in scores.column_names if c != "account_id"]
        same = new.semi_join(
            current,
            [new.account_id == current.account_id, *[new[c].identical_to(current[c]) for c in compared]],
        )
        return new.anti_join(same, "account_id")

    return store.query(con, store.compiled(con, ("changed", *scores.column_names), changed))


MEASURE_FIELDS = ("value", "color", "na", "stale", "contribution")


HEALTH_FIELDS = (
    "scorecard",
    "scored_on",
    "score",
    "color",
    "band_color",
    "override",
    "adoption",
    "measures",
    "previous_on",
    "previous_score",
    "previous_measures",
)


def _measure_dicts(scores: pa.Table, scorecard: Scorecard) -> list[dict]:
    keys = [m.key for m in scorecard.measures]
    columns = {(k, f): scores[f"{k}__{f}"].to_pylist() for k in keys for f in MEASURE_FIELDS}
    return [{k: {f: columns[k, f][i] for f in MEASURE_FIELDS} for k in keys} for i in range(scores.num_rows)]


def _health_row(
    row: dict, measures: dict, before: AccountHealth | None, scorecard: Scorecard, as_of: dt.date
) -> AccountHealth:
    """The new health; the snapshot it replaces becomes "previous", unless re-scored the same day."""
    if before is not None and before.scored_on == as_of:
        previous = (before.previous_on, before.previous_score, before.previous_measures)
    elif before is not None:
        previous = (before.scored_on, before.score, before.measures)
    else:
        previous = (None, None, {})
    return AccountHealth(
        account_id=row["account_id"],
        scorecard=scorecard.name,
        scored_on=as_of,
        score=row["score"],
        color=row["color"] or "",
        band_color=row["band_color"] or "",
        override=row["override"] or "",
        adoption=row["adoption"],
        measures=measures,
        previous_on=previous[0],
        previous_score=previous[1],
        previous_measures=previous[2],
    )


def _write_back(scores: pa.Table, scorecard: Scorecard, as_of: dt.date) -> None:
    """Changed accounts' results into the application database, a batch at a time (bounded memory)."""
    overall = ("account_id", "score", "color", "band_color", "override", "adoption")
    with transaction.atomic():
        for start in range(0, scores.num_rows, BATCH):
            batch = scores.slice(start, BATCH)
            rows = batch.select(overall).to_pylist()
            existing = AccountHealth.objects.in_bulk([r["account_id"] for r in rows])
            AccountHealth.objects.bulk_create(
                [
                    _health_row(row, measures, existing.get(row["account_id"]), scorecard, as_of)
                    for row, measures in zip(rows, _measure_dicts(batch, scorecard), strict=True)
                ],
                update_conflicts=True,
                unique_fields=["account"],
                update_fields=HEALTH_FIELDS,
            )
            ScoreHistory.objects.bulk_create(
                [
                    ScoreHistory(
                        account_id=r["account_id"], scored_on=as_of, score=r["score"], color=r["color"] or ""
                    )
                    for r in rows
                ],
                update_conflicts=True,
                unique_fields=["account", "scored_on"],
                update_fields=["score", "color"],
            )
        _update_accounts(scores)


def _update_accounts(scores: pa.Table) -> None:
    """Copy each account's overall score and colour into the application database."""
    ids = scores["account_id"].to_pylist()
    values = pc.round(scores["score"], 1).to_pylist()
    colors = [c or "" for c in scores["color"].to_pylist()]
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(ids), BATCH):
            cursor.executemany(
                f"UPDATE {table} SET health_score = %s, health_color = %s WHERE id = %s",
                list(
                    zip(
                        values[start : start + BATCH],
                        colors[start : start + BATCH],
                        ids[start : start + BATCH],
                        strict=True,
                    )
                ),
            )


HISTORY_SCHEMA = pa.schema(
    [
        ("account_id", pa.int64()),
        ("scored_on", pa.date32()),
        ("scorecard", pa.string()),
        ("item", pa.string()),
        ("value", pa.float64()),
        ("color", pa.int8()),
        ("note", pa.string()),
        ("stale", pa.bool_()),
        ("contribution", pa.float64()),
    ]
)
COLOR_CODES = {"red": 0, "yellow": 1, "green": 2}


def history_rows(scores: pa.Table, scorecard: Scorecard, as_of: dt.date) -> pa.Table:
    """Wide scores to long history rows: one per account and item (overall, group, measure)."""
    n = scores.num_rows
    ids = scores["account_id"]

    def part(item: str, value, color, note, stale, contribution) -> pa.Table:
        nulls = {pa.float64(): pa.nulls(n, pa.float64()), pa.string(): pa.nulls(n, pa.string())}
        return pa.table(
            {
                "account_id": ids,
                "scored_on": pa.array([as_of] * n, pa.date32()),
                "scorecard": pa.array([scorecard.name] * n),
                "item": pa.array([item] * n),
                "value": value if value is not None else nulls[pa.float64()],
                "color": color if color is not None else pa.nulls(n, pa.int8()),
                "note": note if note is not None else nulls[pa.string()],
                "stale": stale if stale is not None else pa.array([False] * n),
                "contribution": contribution if contribution is not None else nulls[pa.float64()],
            },
            schema=HISTORY_SCHEMA,
        )

    overall_color = pa.array([COLOR_CODES.get(c) for c in scores["color"].to_pylist()], pa.int8())
    parts = [
        part("score", scores["score"], overall_color, scores["override"], None, scores["score"]),
        part("adoption", pc.cast(scores["adoption"], pa.float64()), None, None, None, None),
    ]
    for index, group in enumerate(scorecard.groups):
        parts.append(part(f"group:{group.name}", scores[f"group_{index}__score"], None, None, None, None))
    for measure in scorecard.measures:
        key = measure.key
        parts.append(
            part(
                key,
                scores[f"{key}__value"],
                scores[f"{key}__color"],
                scores[f"{key}__na"],
                scores[f"{key}__stale"],
                scores[f"{key}__contribution"],
            )
        )
    return pa.concat_tables(parts)


def _same_shape(con, scores: pa.Table) -> bool:
    return "health_current" in con.list_tables() and set(con.table("health_current").columns) == set(
        scores.column_names
    )


def score_accounts(
    *,
    as_of: dt.date | None = None,
    scorecard: Scorecard | None = None,
    account_ids: features.AccountIds = None,
) -> ScoreRun:
    """Score every account (or only `account_ids`, e.g. those whose data just changed) as of a
    date, store what changed, and update the accounts."""
    as_of = as_of or dt.date.today()
    scorecard = scorecard or active_scorecard()
    started = time.monotonic()
    con = store.connect()
    with store.exclusive(con):
        scores = compute_scores(con, scorecard, as_of, account_ids)
        if account_ids is not None and not _same_shape(con, scores):
            return score_accounts(as_of=as_of, scorecard=scorecard)  # a new scorecard: score everyone
        changed = _changed(con, scores)
        if changed.num_rows:
            store.append(con, "health_history", history_rows(changed, scorecard, as_of), HISTORY_SCHEMA)
            _write_back(changed, scorecard, as_of)
        if account_ids is None:
            store.replace_table(con, "health_current", scores)
        else:
            store.upsert(con, "health_current", scores, keys=("account_id",))
    return ScoreRun.objects.create(
        as_of=as_of,
        scorecard=scorecard.name,
        accounts=scores.num_rows,
        changed=changed.num_rows,
        seconds=round(time.monotonic() - started, 2),
    )


def seed_outcomes(*, end: dt.date, seed: int = 1) -> int:
    """Synthetic renewal outcomes for the past year; re-running replaces them."""
    rows = list(
        Account.objects.exclude(renewal_date=None)
        .exclude(contract_start=None)
        .values_list("pk", "renewal_date", "contract_start", "arr")
    )
    if not rows:
        return 0
    ids, renewals, starts, arrs = zip(*rows, strict=True)
    made = synthetic.outcomes(
        np.array(ids, np.int64),
        np.array(renewals, "datetime64[D]"),
        np.array(starts, "datetime64[D]"),
        np.array([float(a) for a in arrs]),
        end,
        seed,
    )
    objects = [
        Outcome(
            external_id=f"SYN-{account_id}-{day}",
            account_id=int(account_id),
            kind=str(kind),
            date=day.astype(dt.date),
            arr_before=round(before, 2),
            arr_after=round(after, 2),
        )
        for account_id, day, kind, before, after in zip(
            made["account_id"], made["date"], made["kind"], made["arr_before"], made["arr_after"], strict=True
        )
    ]
    with transaction.atomic():
        Outcome.objects.filter(external_id__startswith="SYN-").delete()
        Outcome.objects.bulk_create(objects, batch_size=BATCH)
    return len(objects)


def run_backtest(*, as_of: dt.date, horizon_days: int, scorecard: Scorecard | None = None) -> Backtest:
    """Score every account as of a past date (nothing current is touched) and record the report."""
    scorecard = scorecard or active_scorecard()
    con = store.connect()
    with store.exclusive(con):
        scores = compute_scores(con, scorecard, as_of)
    report = backtest.evaluate(scores, scorecard, as_of, horizon_days)
    return Backtest.objects.create(
        as_of=as_of,
        horizon_days=horizon_days,
        scorecard=scorecard.name,
        population=report["population"],
        lost=report["lost"],
        auc=report["auc"],
        report=report,
    )
