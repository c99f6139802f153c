"""The cleanup rules as a pure function: each rule on one instance, no AWS and no database."""

from __future__ import annotations

import datetime as dt

import pytest

from csops.sandbox.models import SandboxPolicy
from csops.sandbox.rules import Instance, evaluate, format_date, parse_date

TODAY = dt.date(2026, 12, 1)
POLICY = SandboxPolicy(
    name="t",
    regions=["us-east-1"],
    resource_kinds=["ec2_instance"],
    exclude_ids=["i-keep"],
    exclude_tags={"Team": "infra", "Hold": "*"},
)


def decide(state: str = "running", protected: bool | None = False, today: dt.date = TODAY, **tags) -> tuple:
    decision = evaluate(Instance("i-1", "us-east-1", state, tags=tags, protected=protected), POLICY, today)
    return decision.action, decision.category, decision.set_tags


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-19", dt.date(2026, 12, 19)),
        ("2026/12/19", dt.date(2026, 12, 19)),
        ("Resource does not meet policy: stop@2026/12/19", dt.date(2026, 12, 19)),
        ("Resource does not meet policy: terminate@2026/12/19 1500 UTC", dt.date(2026, 12, 19)),
        ("", None),
        (None, None),
    ],
)
def test_dates_read(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["next tuesday", "2026-13-40", "19/12/2026", "stop@soon"])
def test_unreadable_dates_are_refused(value):
    with pytest.raises(ValueError, match="not a date"):
        parse_date(value)


def test_dates_written_in_either_format():
    assert format_date(TODAY, "iso", op="terminate") == "2026-12-01"
    assert format_date(TODAY, "custodian", op="terminate") == "Sandbox expiry: terminate@2026/12/01"
    assert parse_date(format_date(TODAY, "custodian", op="stop")) == TODAY


def test_first_seen_is_tagged_with_its_expiry():
    assert decide(Name="jd-runner") == (
        "tag",
        "new",
        {"Discovered": "2026-12-01", "Expiration": "2026-12-15"},
    )


def test_unnamed_running_is_stopped_stopped_one_only_tagged():
    action, category, tags = decide()
    assert (action, category, tags["Unnamed"]) == ("stop", "unnamed", "2026-12-01")
    assert decide("stopped")[:2] == ("tag", "unnamed")
    seen = {"Unnamed": "2026-11-01", "Discovered": "2026-11-01", "Expiration": "2026-12-20"}
    assert decide("stopped", **seen) == ("none", "unnamed", {})
    assert decide("running", **seen)[0] == "stop"  # started again, still unnamed


def test_protection_and_exclusions_are_never_touched():
    assert decide(protected=True)[:2] == ("none", "permanent")
    expired = {"Name": "x", "Discovered": "2026-01-01", "Expiration": "2026-01-15"}
    assert decide(protected=True, **expired)[:2] == ("none", "permanent")
    assert decide(Team="infra", **expired)[:2] == ("none", "excluded")
    assert decide(Hold="anything", **expired)[:2] == ("none", "excluded")
    assert decide(Team="sales", **expired)[0] == "stop"
    excluded = evaluate(Instance("i-keep", "us-east-1", "running", tags=expired), POLICY, TODAY)
    assert excluded.action == "none"


def test_expiry_sequence():
    base = {"Name": "x", "Discovered": "2026-11-01", "Expiration": "2026-11-15"}
    assert decide(**{**base, "Expiration": "2026-12-03"})[:2] == ("none", "expiring")  # 2 days: notice
    assert decide(**{**base, "Expiration": "2026-12-10"})[:2] == ("none", "active")
    assert decide(**{**base, "Expiration": "2026-12-01"})[0] == "stop"  # the day itself
    action, category, tags = decide(**base)
    assert (action, category) == ("stop", "awaiting")
    assert tags == {"StoppedOn": "2026-12-01", "ExpirationAtStop": "2026-11-15"}
    stopped = {**base, "StoppedOn": "2026-11-26", "ExpirationAtStop": "2026-11-15"}
    assert decide("stopped", **stopped)[:2] == ("none", "awaiting")  # 5 of 7 days
    assert decide("stopped", today=dt.date(2026, 12, 3), **stopped)[:2] == (
        "snapshot_terminate",
        "terminating",
    )
    assert decide("running", **stopped)[:2] == ("terminate", "terminating")  # started again, not extended
    assert decide("stopped", **{**base})[0] == "tag"  # stopped by its owner: the grace week starts now
    moved = {**stopped, "Expiration": "2026-11-28"}  # edited, but to another past date
    assert decide("stopped", **moved)[0] == "tag" and decide("running", **moved)[0] == "stop"
    assert decide("running", **{**stopped, "Expiration": "2027-01-31"})[0] == "none"  # extended


def test_unreadable_or_partial_tags_are_left_alone():
    for tags in (
        {"Expiration": "soon"},
        {"Discovered": "2026-11-01"},
        {"Expiration": "2026-11-01", "StoppedOn": "yesterday"},
    ):
        assert decide("running", Name="x", **tags)[:2] == ("none", "bad_tag")
