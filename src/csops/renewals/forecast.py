"""Renewal forecast: the likelihood that each renewal is won, learnt from past renewals, and the
renewal ARR to expect in the next fiscal quarters, with the model's accuracy on a held-out period.

Features are read as of a cut-off: LEAD_DAYS before the renewal's close date, but never after
the date the forecast is made (`as_of`), so nothing the forecaster could not have known is used.
Every feature of every renewal is read in one query (correlated subqueries per feature) plus one
Ibis expression over the usage snapshots; nothing queries per opportunity.

The model is a logistic regression over standardised numbers and one-hot categories, in a
scikit-learn Pipeline; it is trained only on renewals closed before the split date and measured
on those closed from the split date on (`backtest`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db.models import (
    Count,
    DateField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Least

from csops.core.calendar import fiscal_quarter_label, fiscal_quarter_start
from csops.customers.models import Opportunity, OpportunityType
from csops.events.models import Registration
from csops.health.models import HealthUpdate, ScoreHistory
from csops.timeline.models import Activity

ZERO = Decimal("0")
LEAD_DAYS = 90  # features as of this many days before the close date
WINDOW_DAYS = 90  # engagement counted, and the health trend measured, over this many days
HELD_OUT_DAYS = 182  # default backtest: the last half year is held out
MIN_TRAINING = 20  # fewer closed renewals (or a single outcome) and there is no model
WON = "closed won"
CLOSED_PREFIX = "closed"
# Category-only weights: the naive forecast a renewals team makes without a model.
CATEGORY_WEIGHTS = {"commit": 0.9, "best_case": 0.7, "pipeline": 0.5, "": 0.5, "omitted": 0.0, "closed": 0.9}
COMMIT_FLOOR = 0.9
NUMERIC = ["health_score", "health_trend", "utilisation", "activities_90d", "events_90d", "log_arr_basis"]
CATEGORICAL = ["health_color", "sentiment", "segment"]
LABELS = {
    "health_score": "Health score",
    "health_trend": "Health trend (90 days)",
    "utilisation": "Licence utilisation",
    "activities_90d": "Calls and meetings (90 days)",
    "events_90d": "Events attended (90 days)",
    "log_arr_basis": "ARR basis",
    "health_color": "Health colour",
    "sentiment": "CSM sentiment",
    "segment": "Segment",
}
RULE = (
    "Closed Won counts 1 and Closed Lost 0, whatever the category; Omitted counts 0; Commit (or a "
    f"Closed category on an open stage) counts the model's probability but at least {COMMIT_FLOOR:.0%}; "
    "Best Case, Pipeline and no category count the model's probability. Without a model (fewer than "
    f"{MIN_TRAINING} closed renewals, or only one outcome) the category weights count instead."
)
DEFINITIONS = {
    "expected": "Σ ARR basis times probability of the renewals closing in the quarter (the rule below).",
    "category_only": "Σ ARR basis times category weight: "
    + ", ".join(f"{k or 'none'} {v:.0%}" for k, v in CATEGORY_WEIGHTS.items())
    + "; closed stages 1 or 0.",
    "basis": "Σ ARR basis: what renews if every renewal is won.",
    "auc": "Probability that a lost renewal got a lower win probability than a won one (0.5 = chance).",
    "brier": "Mean squared difference between the win probability and the outcome (1 won, 0 lost); "
    "lower is better.",
    "error": "Predicted won ARR (Σ ARR basis times probability) minus the actual won ARR basis of the "
    "held-out renewals; % of the actual.",
    "baseline": "Naive forecast: the training period's won share of ARR basis applied to every held-out "
    "renewal (the held-out renewals' forecast category then is not recorded, so the category weights "
    "cannot be replayed).",
    "cutoff": f"Features are as of {LEAD_DAYS} days before the close date, or the forecast date if earlier.",
}


def _closed(prefix: str = "") -> Q:
    return Q(**{f"{prefix}stage__istartswith": CLOSED_PREFIX})


def renewals() -> QuerySet:
    return Opportunity.objects.filter(type=OpportunityType.RENEWAL)


def closed_before(day: dt.date, since: dt.date | None = None) -> QuerySet:
    """Renewals that closed (won or lost) before `day`, and on or after `since`."""
    closed = renewals().filter(_closed(), close_date__lt=day)
    return closed.filter(close_date__gte=since) if since else closed


def _days(expression, days: int):
    return ExpressionWrapper(expression - dt.timedelta(days=days), output_field=DateField())


def _latest(queryset: QuerySet, column: str, date_field: str, upto: str) -> Subquery:
    return Subquery(
        queryset.filter(account_id=OuterRef("account_id"), **{f"{date_field}__lte": OuterRef(upto)})
        .order_by(f"-{date_field}")
        .values(column)[:1]
    )


def _count(queryset: QuerySet, date_field: str) -> Coalesce:
    counted = (
        queryset.filter(
            account_id=OuterRef("account_id"),
            **{f"{date_field}__gt": OuterRef("window_start"), f"{date_field}__lte": OuterRef("cutoff")},
        )
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


FIELDS = {
    "id": "pk",
    "account_id": "account_id",
    "account_name": "account__name",
    "name": "name",
    "close_date": "close_date",
    "stage": "stage",
    "forecast_category": "forecast_category",
    "arr_basis": "arr_basis",
    "segment": "account__segment__name",
    "current_color": "account__health_color",
    "account_sentiment": "account__csm_sentiment",
    "account_sentiment_date": "account__csm_sentiment_date",
    "licensed_users": "account__licensed_users",
}


def features(opportunities: QuerySet, as_of: dt.date) -> pd.DataFrame:
    """One row per opportunity: its facts and its features as of its cut-off, in one query."""
    cutoff = Least(_days(F("close_date"), LEAD_DAYS), Value(as_of, output_field=DateField()))
    window_start = Least(
        _days(F("close_date"), LEAD_DAYS + WINDOW_DAYS),
        Value(as_of - dt.timedelta(days=WINDOW_DAYS), output_field=DateField()),
    )
    scores = ScoreHistory.objects.exclude(score=None)
    read = {
        "health_score": _latest(scores, "score", "scored_on", "cutoff"),
        "score_before": _latest(scores, "score", "scored_on", "window_start"),
        "health_color": _latest(scores, "color", "scored_on", "cutoff"),
        "update_sentiment": _latest(HealthUpdate.objects, "sentiment", "created_at__date", "cutoff"),
        "activities_90d": _count(Activity.objects, "date"),
        "events_90d": _count(Registration.objects.filter(attended=True), "event__starts_at__date"),
    }
    columns = [*FIELDS.values(), *read]
    rows = (
        opportunities.order_by("close_date", "pk")
        .annotate(cutoff=cutoff, window_start=window_start)
        .annotate(**read)
        .values(*columns)
    )
    frame = pd.DataFrame.from_records(list(rows), columns=columns)
    frame = frame.rename(columns={v: k for k, v in FIELDS.items()})
    lead = dt.timedelta(days=LEAD_DAYS)
    frame["cutoff"] = pd.Series(
        [min(c - lead, as_of) for c in frame["close_date"]], index=frame.index, dtype=object
    )
    # Sentiment then: the latest health update by the cut-off, else the account's sentiment if it
    # was set by then, else unknown.
    set_by_then = pd.to_datetime(frame["account_sentiment_date"]) <= pd.to_datetime(frame["cutoff"])
    account_then = frame["account_sentiment"].where(set_by_then, None)
    frame["sentiment"] = frame["update_sentiment"].where(frame["update_sentiment"].notna(), account_then)
    for column in ("sentiment", "health_color", "segment"):
        frame[column] = frame[column].fillna("").replace("", "unknown")
    frame["health_score"] = frame["health_score"].astype(float)
    frame["health_trend"] = frame["health_score"] - frame["score_before"].astype(float)
    frame["arr_basis"] = frame["arr_basis"].map(lambda v: Decimal(v) if v is not None else ZERO)
    frame["log_arr_basis"] = np.log10(frame["arr_basis"].astype(float).clip(lower=1.0))
    frame["activities_90d"] = frame["activities_90d"].astype(float)
    frame["events_90d"] = frame["events_90d"].astype(float)
    frame["utilisation"] = usage_utilisation(frame)
    frame["won"] = frame["stage"].str.lower() == WON
    frame["closed"] = frame["stage"].str.lower().str.startswith(CLOSED_PREFIX)
    return frame.drop(columns=["score_before", "update_sentiment", "account_sentiment_date"])


def usage_utilisation(frame: pd.DataFrame) -> pd.Series:
    """Billable users over licensed users in each opportunity's latest usage snapshot within
    WINDOW_DAYS before its cut-off (one Ibis expression over the store); NaN without one."""
    import ibis
    import pyarrow as pa

    from csops.usage import store

    result = pd.Series(np.nan, index=frame.index, dtype=float)
    con = store.connect()
    if frame.empty or "usage_snapshots" not in con.list_tables():
        return result
    keys = ibis.memtable(
        pa.table(
            {
                "opportunity_id": pa.array(frame["id"], pa.int64()),
                "key_account_id": pa.array(frame["account_id"], pa.int64()),
                "cutoff": pa.array(frame["cutoff"], pa.date32()),
            }
        )
    )
    usage = con.table("usage_snapshots")
    usage = usage.filter(usage.included_in_health)
    joined = keys.join(
        usage,
        [
            keys.key_account_id == usage.account_id,
            usage.snapshot_date <= keys.cutoff,
            usage.snapshot_date > keys.cutoff - ibis.interval(days=WINDOW_DAYS),
        ],
    )
    daily = joined.group_by(["opportunity_id", "snapshot_date"]).aggregate(
        billable=joined.billable_users.sum(), licensed=joined.licensed_users.sum()
    )
    newest = daily.group_by("opportunity_id").aggregate(newest=daily.snapshot_date.max())
    latest = daily.join(
        newest, [daily.opportunity_id == newest.opportunity_id, daily.snapshot_date == newest.newest]
    ).select(daily.opportunity_id, daily.billable, daily.licensed)
    with store.exclusive(con):
        found = con.to_pyarrow(latest).to_pandas()
    if found.empty:
        return result
    found = found.set_index("opportunity_id")
    licensed = found["licensed"].astype(float)
    ratio = (found["billable"].astype(float) / licensed.where(licensed > 0)).clip(upper=2.0)
    return frame["id"].map(ratio).astype(float)


def _pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )
    columns = ColumnTransformer(
        [("num", numbers, NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
        sparse_threshold=0,
    )
    model = LogisticRegression(C=0.5, max_iter=2000, random_state=0)
    return Pipeline([("features", columns), ("model", model)])


@dataclass
class Model:
    """A fitted pipeline and what it was trained on."""

    pipeline: object
    trained_on: int
    won_rate: float  # share of the training renewals won
    arr_rate: float  # won ARR basis / ARR basis of the training renewals
    training_ids: frozenset[int]
    mean_row: np.ndarray

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.empty:
            return np.array([])
        return self.pipeline.predict_proba(frame[NUMERIC + CATEGORICAL])[:, 1]

    def drivers(self, frame: pd.DataFrame, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per row, the features that move its log-odds most from the training average, signed."""
        if frame.empty:
            return []
        columns, model = self.pipeline.named_steps["features"], self.pipeline.named_steps["model"]
        rows = columns.transform(frame[NUMERIC + CATEGORICAL])
        contributions = (rows - self.mean_row) * model.coef_[0]
        names = [_source(n) for n in columns.get_feature_names_out()]
        sources = sorted(set(names))
        grouping = np.array([[n == s for s in sources] for n in names], dtype=float)
        per_source = contributions @ grouping
        result = []
        for values in per_source:
            order = np.argsort(-np.abs(values))[:top]
            result.append([(sources[i], float(values[i])) for i in order if abs(values[i]) >= 0.05])
        return result


def _source(name: str) -> str:
    """The input column a transformed column comes from (num__x, num__missingindicator_x, cat__x_value)."""
    kind, _, rest = name.partition("__")
    if kind == "num":
        return rest.removeprefix("missingindicator_")
    return next(c for c in CATEGORICAL if rest.startswith(f"{c}_"))


def _arr_rate(frame: pd.DataFrame) -> float:
    basis = sum(frame["arr_basis"], ZERO)
    won = sum(frame.loc[frame["won"], "arr_basis"], ZERO)
    return float(won / basis) if basis else 0.0


def train(history: pd.DataFrame) -> Model | None:
    """A model of P(won) from closed renewals; None with too few or a single outcome."""
    if len(history) < MIN_TRAINING or history["won"].nunique() < 2:
        return None
    pipeline = _pipeline()
    pipeline.fit(history[NUMERIC + CATEGORICAL], history["won"].astype(int))
    rows = pipeline.named_steps["features"].transform(history[NUMERIC + CATEGORICAL])
    return Model(
        pipeline=pipeline,
        trained_on=len(history),
        won_rate=float(history["won"].mean()),
        arr_rate=_arr_rate(history),
        training_ids=frozenset(int(i) for i in history["id"]),
        mean_row=rows.mean(axis=0),
    )


def roc_auc(probability: np.ndarray, won: np.ndarray) -> float | None:
    if len(set(won.tolist())) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(won, probability))


def money(values: Iterable) -> Decimal:
    return sum((Decimal(v) for v in values), ZERO).quantize(Decimal("0.01"))


@dataclass
class QuarterCheck:
    quarter: str
    renewals: int
    basis: Decimal
    actual: Decimal
    predicted: Decimal
    baseline: Decimal


@dataclass
class Backtest:
    """The model trained on renewals closed before `split`, measured on those closed in [split, end)."""

    split: dt.date
    end: dt.date
    trained_on: int
    held_out: int
    lost: int
    auc: float | None
    brier: float | None
    brier_baseline: float | None
    basis: Decimal
    actual: Decimal
    predicted: Decimal
    baseline: Decimal
    quarters: list[QuarterCheck] = field(default_factory=list)
    held_out_ids: frozenset[int] = frozenset()
    training_ids: frozenset[int] = frozenset()

    @property
    def error(self) -> Decimal:
        return self.predicted - self.actual

    @property
    def baseline_error(self) -> Decimal:
        return self.baseline - self.actual

    @property
    def error_pct(self) -> float | None:
        return float(self.error / self.actual) if self.actual else None

    @property
    def baseline_error_pct(self) -> float | None:
        return float(self.baseline_error / self.actual) if self.actual else None

    @property
    def error_percent(self) -> float | None:
        return None if self.error_pct is None else 100 * self.error_pct

    @property
    def baseline_error_percent(self) -> float | None:
        return None if self.baseline_error_pct is None else 100 * self.baseline_error_pct


class NoModel(ValueError):
    """Too little history to train or to test on."""


def backtest(split: dt.date, end: dt.date) -> Backtest:
    """Train on renewals closed before `split` (features as of their cut-offs), predict those closed
    in [split, end) from what was known on `split`, and compare with what happened."""
    model = train(features(closed_before(split), split))
    if model is None:
        raise NoModel(f"fewer than {MIN_TRAINING} renewals, or only one outcome, closed before {split}")
    held = features(closed_before(end, since=split), split)
    if held.empty:
        raise NoModel(f"no renewal closed between {split} and {end}")
    probability = model.probability(held)
    won = held["won"].to_numpy(dtype=int)
    basis = held["arr_basis"]
    predicted = [b * Decimal(str(p)) for b, p in zip(basis, probability, strict=True)]
    baseline = [b * Decimal(str(model.arr_rate)) for b in basis]
    held = held.assign(predicted=predicted, baseline=baseline)
    held["quarter"] = held["close_date"].map(fiscal_quarter_label)
    quarters = [
        QuarterCheck(
            quarter=label,
            renewals=len(group),
            basis=money(group["arr_basis"]),
            actual=money(group.loc[group["won"], "arr_basis"]),
            predicted=money(group["predicted"]),
            baseline=money(group["baseline"]),
        )
        for label, group in held.groupby("quarter", sort=True)
    ]
    return Backtest(
        split=split,
        end=end,
        trained_on=model.trained_on,
        held_out=len(held),
        lost=int((won == 0).sum()),
        auc=roc_auc(probability, won),
        brier=float(np.mean((probability - won) ** 2)),
        brier_baseline=float(np.mean((model.won_rate - won) ** 2)),
        basis=money(basis),
        actual=money(held.loc[held["won"], "arr_basis"]),
        predicted=money(predicted),
        baseline=money(baseline),
        quarters=quarters,
        held_out_ids=frozenset(int(i) for i in held["id"]),
        training_ids=model.training_ids,
    )


def combine(stage: str, category: str, model_probability: float | None) -> tuple[float, str]:
    """The probability a renewal counts with, and the part of RULE that decided it."""
    stage = (stage or "").lower()
    if stage == WON:
        return 1.0, "closed won"
    if stage.startswith(CLOSED_PREFIX):
        return 0.0, "closed lost"
    if category == "omitted":
        return 0.0, "omitted"
    if model_probability is None:
        return CATEGORY_WEIGHTS.get(category, CATEGORY_WEIGHTS[""]), "category weight"
    if category in ("commit", "closed") and model_probability < COMMIT_FLOOR:
        return COMMIT_FLOOR, "commit floor"
    return model_probability, "model"


def category_probability(stage: str, category: str) -> float:
    stage = (stage or "").lower()
    if stage.startswith(CLOSED_PREFIX):
        return 1.0 if stage == WON else 0.0
    return CATEGORY_WEIGHTS.get(category, CATEGORY_WEIGHTS[""])


@dataclass
class Prediction:
    """One renewal in the forecast horizon."""

    id: int
    account_id: int
    account_name: str
    name: str
    close_date: dt.date
    quarter: str
    segment: str
    stage: str
    forecast_category: str
    arr_basis: Decimal
    health_color: str  # the account's colour now
    sentiment: str  # the account's CSM sentiment now
    model_probability: float | None
    probability: float
    rule: str
    category_probability: float
    drivers: list[tuple[str, float]]

    @property
    def expected(self) -> Decimal:
        return (self.arr_basis * Decimal(str(self.probability))).quantize(Decimal("0.01"))

    @property
    def category_expected(self) -> Decimal:
        return (self.arr_basis * Decimal(str(self.category_probability))).quantize(Decimal("0.01"))

    def driver_text(self) -> str:
        return "; ".join(f"{LABELS.get(n, n)} {'+' if v > 0 else '-'}{abs(v):.2f}" for n, v in self.drivers)


def quarter_starts(as_of: dt.date, quarters: int) -> list[dt.date]:
    """The first days of the current fiscal quarter and the `quarters` - 1 after it, then the end."""
    starts = [fiscal_quarter_start(as_of)]
    for _ in range(quarters):
        following = starts[-1] + dt.timedelta(days=100)
        starts.append(fiscal_quarter_start(following.replace(day=1)))
    return starts


@dataclass
class Forecast:
    as_of: dt.date
    quarters: list[str]
    predictions: list[Prediction]
    model: Model | None

    def rows(self, churned: set[int] | frozenset[int] = frozenset(), by_segment: bool = False) -> list[dict]:
        """Totals per quarter (and segment); renewals of `churned` accounts count 0."""
        keys = [(q, "") for q in self.quarters]
        if by_segment:
            found = {(p.quarter, p.segment) for p in self.predictions}
            keys = sorted(found, key=lambda k: (self.quarters.index(k[0]), k[1]))
        totals = {k: _empty(*k) for k in keys}
        for p in self.predictions:
            row = totals[(p.quarter, p.segment if by_segment else "")]
            row["renewals"] += 1
            row["basis"] += p.arr_basis
            row["category_only"] += p.category_expected
            row["expected"] += ZERO if p.account_id in churned else p.expected
            if p.account_id in churned:
                row["at_risk"] += p.expected
                row["churned"] += 1
        return list(totals.values())

    def total(self, rows: list[dict]) -> dict:
        total = _empty("Total", "")
        for row in rows:
            for key in ("renewals", "churned", "basis", "category_only", "expected", "at_risk"):
                total[key] += row[key]
        return total


def _empty(quarter: str, segment: str) -> dict:
    return {
        "quarter": quarter,
        "segment": segment,
        "renewals": 0,
        "churned": 0,
        "basis": ZERO,
        "category_only": ZERO,
        "expected": ZERO,
        "at_risk": ZERO,
    }


def forecast(as_of: dt.date, quarters: int = 4) -> Forecast:
    """Every renewal closing in the current fiscal quarter and the following ones, with its
    probability by RULE; the model is trained on every renewal closed before `as_of`."""
    model = train(features(closed_before(as_of), as_of))
    starts = quarter_starts(as_of, quarters)
    frame = features(renewals().filter(close_date__gte=starts[0], close_date__lt=starts[-1]), as_of)
    model_p = model.probability(frame) if model else np.full(len(frame), np.nan)
    drivers = model.drivers(frame) if model else [[] for _ in range(len(frame))]
    predictions = []
    for row, p, why in zip(frame.to_dict("records"), model_p, drivers, strict=True):
        mp = None if math.isnan(p) else float(p)
        probability, rule = combine(row["stage"], row["forecast_category"], mp)
        predictions.append(
            Prediction(
                id=row["id"],
                account_id=row["account_id"],
                account_name=row["account_name"],
                name=row["name"],
                close_date=row["close_date"],
                quarter=fiscal_quarter_label(row["close_date"]),
                segment=row["segment"],
                stage=row["stage"],
                forecast_category=row["forecast_category"] or "",
                arr_basis=row["arr_basis"],
                health_color=row["current_color"] or "",
                sentiment=row["account_sentiment"] or "",
                model_probability=mp,
                probability=probability,
                rule=rule,
                category_probability=category_probability(row["stage"], row["forecast_category"]),
                drivers=why,
            )
        )
    labels = [fiscal_quarter_label(s) for s in starts[:-1]]
    return Forecast(as_of=as_of, quarters=labels, predictions=predictions, model=model)


@dataclass
class WhatIf:
    """Accounts assumed to churn: by current health colour, segment, CSM sentiment, quarter or id."""

    colors: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    sentiments: list[str] = field(default_factory=list)
    quarter: str = ""
    accounts: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.colors or self.segments or self.sentiments or self.accounts)

    def churned(self, predictions: list[Prediction]) -> frozenset[int]:
        """The accounts with a renewal in the horizon (in `quarter`, if given) matching every filter
        given; listed account ids are added to them."""
        if not self:
            return frozenset()
        chosen = set(self.accounts)
        if self.colors or self.segments or self.sentiments:
            chosen |= {
                p.account_id
                for p in predictions
                if (not self.colors or p.health_color in self.colors)
                and (not self.segments or p.segment in self.segments)
                and (not self.sentiments or p.sentiment in self.sentiments)
                and (not self.quarter or p.quarter == self.quarter)
            }
        return frozenset(chosen)


# --- cached for the pages ---------------------------------------------------------------------------

CACHE_SECONDS = 600


def data_version() -> tuple:
    """What the features and outcomes are read from, in one query: any renewal, score, health
    update, activity or registration written since makes a new version."""
    return tuple(
        Opportunity.objects.filter(type=OpportunityType.RENEWAL)
        .aggregate(
            count=Count("pk"),
            changed=Max("updated_at"),
            scores=Max(Subquery(ScoreHistory.objects.order_by("-pk").values("pk")[:1])),
            updates=Max(Subquery(HealthUpdate.objects.order_by("-pk").values("pk")[:1])),
            activities=Max(Subquery(Activity.objects.order_by("-pk").values("pk")[:1])),
            registrations=Max(Subquery(Registration.objects.order_by("-pk").values("pk")[:1])),
        )
        .values()
    )


def cached(build, *args):
    """`build(*args)` (forecast or backtest), kept for CACHE_SECONDS while the data stays the same:
    a what-if or an export asks again without retraining the model. A NoModel is kept too."""
    from django.core.cache import cache

    what = f"{build.__name__}:{args!r}:{data_version()!r}"
    key = f"renewal-forecast:{hashlib.sha256(what.encode()).hexdigest()}"
    found = cache.get(key)
    if found is None:
        try:
            found = build(*args)
        except NoModel as exc:
            found = exc
        cache.set(key, found, CACHE_SECONDS)
    if isinstance(found, NoModel):
        raise found
    return found
