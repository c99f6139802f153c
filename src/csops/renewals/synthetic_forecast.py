"""The demo's renewal history for the forecast: a closed renewal opportunity for each past renewal
outcome (the health backtest's ground truth), and the history the forecast reads before each one:
monthly health scores, a CSM health update and calls and meetings, older than what the demo's
scoring runs and timeline already hold.

All of it follows the account's hidden fit (csops.usage.synthetic.account_fit), which already drove
the outcomes, through noise: a poorly fitting account scores lower, meets less and is more often
red, so the forecast finds a real, imperfect signal. About half of the lost accounts' scores sag
in the half year before the loss. Deterministic for a seed; does nothing if the history exists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.db.models import Min

from csops.customers.models import Account, ForecastCategory, Opportunity, OpportunityType
from csops.health.models import HealthUpdate, Outcome, OutcomeKind, ScoreHistory
from csops.health.selectors import active_scorecard
from csops.timeline.models import Activity, ActivityType
from csops.usage.synthetic import account_fit

PREFIX = "FCH-"  # the external ids of the synthetic renewals and activities
STEP_DAYS = 28
BATCH = 2000


def _color(score: np.ndarray, bands: dict) -> np.ndarray:
    return np.where(score >= bands["green"], "green", np.where(score >= bands["yellow"], "yellow", "red"))


@transaction.atomic
def seed_renewal_history(seed: int = 1, today: dt.date | None = None) -> int:
    """The closed renewals made (0 if they exist already or there are no outcomes)."""
    if Opportunity.objects.filter(external_id__startswith=PREFIX).exists():
        return 0
    today = today or dt.date.today()
    outcomes = list(
        Outcome.objects.filter(date__lt=today)
        .order_by("date", "pk")
        .values_list("pk", "account_id", "account__name", "date", "kind", "arr_before", "arr_after")
    )
    if not outcomes:
        return 0
    rng = np.random.default_rng([seed, 31])
    ids = np.array([o[1] for o in outcomes], np.int64)
    fit = account_fit(ids, seed)
    lost = np.array([o[4] == OutcomeKind.CHURNED for o in outcomes])
    Opportunity.objects.bulk_create(
        [
            Opportunity(
                external_id=f"{PREFIX}{pk}",
                account_id=account_id,
                name=f"{name} - Renewal {day.year}",
                type=OpportunityType.RENEWAL,
                arr_basis=before or Decimal(0),
                net_arr=(after or Decimal(0)) - (before or Decimal(0)),
                close_date=day,
                stage="Closed Lost" if kind == OutcomeKind.CHURNED else "Closed Won",
                forecast_category=ForecastCategory.CLOSED,
            )
            for pk, account_id, name, day, kind, before, after in outcomes
        ],
        batch_size=BATCH,
    )
    closes = np.array([o[3] for o in outcomes], "datetime64[D]")
    _scores(rng, ids, fit, lost, closes, today)
    _updates(rng, ids, fit, lost, closes)
    _meetings(rng, ids, fit, closes)
    return len(outcomes)


def _scores(rng, ids, fit, lost, closes, today) -> None:
    """A score every four weeks from 18 months before the first outcome up to the first score the
    demo's scoring runs wrote."""
    first = ScoreHistory.objects.aggregate(first=Min("scored_on"))["first"] or today
    days = np.arange(
        np.datetime64(closes.min() - np.timedelta64(540, "D")), np.datetime64(first), STEP_DAYS
    )
    accounts, first_index = np.unique(ids, return_index=True)
    level = 25 + 60 * fit[first_index] + rng.normal(0, 10, len(accounts))
    wobble = rng.normal(0, 6, (len(accounts), len(days)))
    scores = np.clip(level[:, None] + wobble, 0, 100)
    # Half of the lost accounts sag over the half year before their loss.
    sag = lost & (rng.random(len(ids)) < 0.5)
    position = {a: i for i, a in enumerate(accounts)}
    for row in np.nonzero(sag)[0]:
        until = (closes[row] - days).astype(int)
        drop = np.clip((182 - until) / 182, 0, 1) * rng.uniform(10, 30)
        scores[position[ids[row]]] -= np.where(until >= 0, drop, 0)
    scores = np.clip(np.round(scores, 1), 0, 100)
    colors = _color(scores, active_scorecard().bands)
    ScoreHistory.objects.bulk_create(
        [
            ScoreHistory(account_id=int(a), scored_on=day.astype(dt.date), score=float(s), color=str(c))
            for a, row_scores, row_colors in zip(accounts, scores, colors, strict=True)
            for day, s, c in zip(days, row_scores, row_colors, strict=True)
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )


def _updates(rng, ids, fit, lost, closes) -> None:
    """One CSM health update 100 to 200 days before each renewal of a CSM-managed account."""
    managed = set(Account.objects.filter(csm__isnull=False, csm__is_pool=False).values_list("pk", flat=True))
    signal = fit + rng.normal(0, 0.25, len(ids)) - np.where(lost, 0.15, 0)
    sentiment = np.where(signal > 0.55, "green", np.where(signal > 0.3, "yellow", "red"))
    when = closes - rng.integers(100, 200, len(ids)).astype("timedelta64[D]")
    made = [
        HealthUpdate(account_id=int(a), sentiment=str(s), summary="Quarterly health review (demo history)")
        for a, s in zip(ids, sentiment, strict=True)
        if int(a) in managed
    ]
    dates = [w for a, w in zip(ids, when, strict=True) if int(a) in managed]
    HealthUpdate.objects.bulk_create(made, batch_size=BATCH)
    for update, day in zip(made, dates, strict=True):
        update.created_at = dt.datetime.combine(day.astype(dt.date), dt.time(15), tzinfo=dt.UTC)
    HealthUpdate.objects.bulk_update(made, ["created_at"], batch_size=BATCH)


def _meetings(rng, ids, fit, closes) -> None:
    """Calls and meetings for CSM-managed accounts before the demo's timeline starts, as often as
    the timeline's own (every 20 to 100 days, the better the fit the more often)."""
    types = list(ActivityType.objects.filter(counts_as_meeting=True).order_by("pk"))
    if not types:
        return
    managed = set(Account.objects.filter(csm__isnull=False, csm__is_pool=False).values_list("pk", flat=True))
    first = Activity.objects.aggregate(first=Min("date"))["first"]
    end = np.datetime64(first) if first else closes.max()
    start = closes.min() - np.timedelta64(LEAD_BACK, "D")
    accounts, first_index = np.unique(ids, return_index=True)
    made = []
    for account, account_fit_value in zip(accounts, fit[first_index], strict=True):
        if int(account) not in managed:
            continue
        gap = 20 + (1 - account_fit_value) * 80
        day = end - np.timedelta64(int(rng.uniform(1, gap)), "D")
        while day > start:
            kind = types[int(rng.integers(len(types)))]
            made.append(
                Activity(
                    account_id=int(account),
                    type=kind,
                    subject=f"{kind.name} with the team",
                    date=day.astype(dt.date),
                    sentiment=str(rng.choice(["green", "green", "yellow", "red"])),
                    external_id=f"{PREFIX}{account}-{day}",
                )
            )
            day -= np.timedelta64(max(1, int(rng.uniform(0.6, 1.4) * gap)), "D")
    Activity.objects.bulk_create(made, batch_size=BATCH, ignore_conflicts=True)


LEAD_BACK = 200  # meetings from this many days before the first renewal's close
