"""Reads of health configuration and results."""

from __future__ import annotations

from csops.health.models import Scorecard as ScorecardRow
from csops.health.scorecard import Scorecard, build


class NoActiveScorecard(Exception):
    pass


def active_scorecard() -> Scorecard:
    row = ScorecardRow.objects.filter(active=True).first()
    if row is None:
        raise NoActiveScorecard("no active scorecard: apply the default configuration first")
    return build(row.definition())
