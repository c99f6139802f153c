"""The PROVE rules, pinned: thresholds at their boundaries, the licence matrix, composites,
N/A and weight redistribution, the sentiment override, staleness and the first 30 days."""

import datetime as dt
from functools import cache

import ibis
import pyarrow as pa
import pytest
import yaml

from csops.core.configuration import default_directory
from csops.health.engine import score_table
from csops.health.features import FEATURES
from csops.health.scorecard import ScorecardError, build

AS_OF = dt.date(2026, 11, 23)
RED, YELLOW, GREEN = 0, 1, 2


@cache
def prove_definition() -> dict:
    return yaml.safe_load((default_directory() / "scorecards.yaml").read_text())[0]


def days_ago(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


def healthy(**changes) -> dict:
    """A Strategic, top-tier, P1 account that scores green everywhere it is measured."""
    row = {name: None for name in FEATURES}
    row.update(
        account_id=1,
        segment="Strategic",
        geo="AMER",
        tier="ultimate",
        deployment="saas",
        csm_priority="P1",
        arr=900_000.0,
        account_licensed_users=1000,
        contract_start=days_ago(400),
        csm_sentiment="green",
        csm_sentiment_date=days_ago(10),
        last_meeting_date=days_ago(20),
        dev_lead_met_90d=True,
        security_lead_met_90d=True,
        success_plan_status="active",
        tickets_30d=3,
        emergency_open=0,
        emergency_closed_7d=0,
        usage_date=days_ago(3),
        billable_users=900,
        licensed_users=1000,
        unique_active_users=810,
        git_operation_users=600,
        pipeline_users=400,
        ci_pipelines=4000,
        deploying_users=200,
        deployments=2000,
        successful_deployments=1900,
        failed_deployments=100,
        scanner_users=300,
        scans_sast=1500,
        scans_dast=500,
        scans_dependency=500,
        scans_container=0,
        scans_secret=0,
        scans=2500,
        scanner_types=3,
    )
    row.update(changes)
    return row


def score(*rows: dict, definition: dict | None = None) -> list[dict]:
    scorecard = build(definition or prove_definition())
    schema = pa.schema([(name, kind) for name, kind in FEATURES.items()])
    rows = [{**r, "account_id": r.get("account_id") or i + 1} for i, r in enumerate(rows)]
    table = ibis.memtable(pa.Table.from_pylist(rows, schema=schema))
    result = score_table(scorecard, table, AS_OF).to_pyarrow().to_pylist()
    return sorted(result, key=lambda r: r["account_id"])


def test_a_healthy_account_is_green_in_every_measure():
    [result] = score(healthy())
    for key in (
        "license_utilization",
        "user_engagement",
        "scm",
        "ci",
        "devsecops",
        "cd",
        "csm_sentiment",
        "roi",
        "support_tickets",
        "meeting_cadence",
        "persona_engagement",
    ):
        assert result[f"{key}__color"] == GREEN, key
    assert result["score"] == pytest.approx(100.0) and result["color"] == "green"
    assert result["adoption"] == 4
    assert sum(
        result[f"{k}__contribution"]
        for k in (
            "license_utilization",
            "user_engagement",
            "scm",
            "ci",
            "devsecops",
            "cd",
            "csm_sentiment",
            "roi",
            "support_tickets",
            "meeting_cadence",
            "persona_engagement",
        )
    ) == pytest.approx(result["score"])


@pytest.mark.parametrize(
    ("measure", "numerator", "denominator", "ratio", "color"),
    [
        ("user_engagement", "unique_active_users", "billable_users", 0.80, GREEN),
        ("user_engagement", "unique_active_users", "billable_users", 0.79, YELLOW),
        ("user_engagement", "unique_active_users", "billable_users", 0.50, YELLOW),
        ("user_engagement", "unique_active_users", "billable_users", 0.49, RED),
        ("scm", "git_operation_users", "billable_users", 0.50, GREEN),
        ("scm", "git_operation_users", "billable_users", 0.49, YELLOW),
        ("scm", "git_operation_users", "billable_users", 0.25, YELLOW),
        ("scm", "git_operation_users", "billable_users", 0.24, RED),
        ("ci", "pipeline_users", "billable_users", 0.33, GREEN),
        ("ci", "pipeline_users", "billable_users", 0.32, YELLOW),
        ("ci", "pipeline_users", "billable_users", 0.25, YELLOW),
        ("ci", "pipeline_users", "billable_users", 0.24, RED),
    ],
)
def test_threshold_boundaries(measure, numerator, denominator, ratio, color):
    [result] = score(healthy(**{denominator: 100, numerator: round(ratio * 100)}))
    assert result[f"{measure}__value"] == pytest.approx(ratio)
    assert result[f"{measure}__color"] == color


@pytest.mark.parametrize(
    ("utilisation", "colors"),
    [
        # contract age:   2-6 months, 6-9 months, over 9 months
        (0.09, (RED, RED, RED)),
        (0.10, (YELLOW, RED, RED)),
        (0.50, (YELLOW, RED, RED)),
        (0.51, (GREEN, YELLOW, RED)),
        (0.75, (GREEN, YELLOW, RED)),
        (0.76, (GREEN, GREEN, GREEN)),
    ],
)
def test_licence_utilisation_matrix(utilisation, colors):
    ages = (days_ago(120), days_ago(240), days_ago(300))  # about 3.9, 7.9 and 9.9 months
    rows = [
        healthy(contract_start=start, billable_users=round(utilisation * 100), licensed_users=100)
        for start in ages
    ]
    assert tuple(r["license_utilization__color"] for r in score(*rows)) == colors


def test_licence_falls_back_to_contract_seats():
    [result] = score(healthy(licensed_users=None, account_licensed_users=200, billable_users=180))
    assert result["license_utilization__value"] == pytest.approx(0.9)


def test_devsecops_is_green_with_two_of_three_and_top_tier_only():
    two_green = healthy(scanner_types=1)  # users and scans per pipeline green, types red
    one_green = healthy(scanner_types=1, scans=100)  # 100 / 4000 = 0.025 scans per pipeline: red
    premium = healthy(tier="premium")
    first, second, third = score(two_green, one_green, premium)
    assert first["devsecops__color"] == GREEN and first["devsecops__value"] == 2
    assert second["devsecops__color"] == RED
    assert third["devsecops__color"] is None and third["devsecops__na"] == "top tier only"


def test_cd_composite_mixed_is_yellow():
    # deploying share 0.2 green, 1 deployment per user red, success 0.5 yellow
    [result] = score(healthy(deploying_users=180, deployments=180, successful_deployments=90))
    assert result["cd__color"] == YELLOW


def test_na_weight_is_redistributed_within_the_group():
    [full] = score(healthy(pipeline_users=0))  # CI red, everything else green
    [without] = score(healthy(pipeline_users=0, usage_date=days_ago(61)))
    product = (30 * 100 + 10 * 100 + 15 * 100 + 15 * 25 + 15 * 100 + 15 * 100) / 100
    assert full["group_0__score"] == pytest.approx(product)
    assert without["group_0__score"] is None  # every usage measure N/A: the group drops out
    assert without["license_utilization__na"] == "no usage data in the last 60 days"
    assert without["score"] == pytest.approx(100.0)  # remaining groups all green


def test_an_na_measure_does_not_count_in_its_group():
    [result] = score(healthy(pipeline_users=0, tier="premium"))  # CI red; DevSecOps N/A
    expected = (30 * 100 + 10 * 100 + 15 * 100 + 15 * 25 + 15 * 100) / 85
    assert result["group_0__score"] == pytest.approx(expected)


def test_sentiment_red_overrides_the_overall_colour():
    [result] = score(healthy(csm_sentiment="red"))
    assert result["band_color"] == "green" and result["color"] == "red"
    assert result["override"] == "CSM sentiment is red"


def test_sentiment_staleness():
    fresh, stale, expired = score(
        healthy(csm_sentiment_date=days_ago(90)),
        healthy(csm_sentiment_date=days_ago(91)),
        healthy(csm_sentiment_date=days_ago(121)),
    )
    assert not fresh["csm_sentiment__stale"] and fresh["csm_sentiment__color"] == GREEN
    assert stale["csm_sentiment__stale"] and stale["csm_sentiment__color"] == GREEN
    assert expired["csm_sentiment__color"] is None
    assert expired["csm_sentiment__na"] == "sentiment older than 120 days"


def test_first_30_days_everything_but_sentiment_is_na():
    [result] = score(healthy(contract_start=days_ago(29), csm_sentiment="yellow"))
    assert result["csm_sentiment__color"] == YELLOW
    for key in ("license_utilization", "scm", "roi", "support_tickets", "meeting_cadence"):
        assert result[f"{key}__na"] == "new account (first 30 days)", key
    assert result["score"] == pytest.approx(62.0) and result["color"] == "yellow"
    [day_30] = score(healthy(contract_start=days_ago(30)))
    assert day_30["license_utilization__na"] is None


def test_usage_staleness_at_60_days():
    fresh, stale = score(healthy(usage_date=days_ago(60)), healthy(usage_date=days_ago(61)))
    assert fresh["scm__color"] == GREEN and stale["scm__na"] == "no usage data in the last 60 days"


@pytest.mark.parametrize(
    ("tickets", "color", "na"),
    [
        (0, None, "no support tickets in the last 30 days"),
        (1, GREEN, None),
        (5, GREEN, None),
        (6, YELLOW, None),
        (15, YELLOW, None),
        (16, RED, None),
    ],
)
def test_support_tickets_per_month(tickets, color, na):
    [result] = score(healthy(tickets_30d=tickets))
    assert result["support_tickets__color"] == color and result["support_tickets__na"] == na


def test_emergency_tickets_are_shown_but_weigh_nothing():
    open_now, closed_recently = score(healthy(emergency_open=1), healthy(emergency_closed_7d=1))
    assert open_now["emergency_tickets__color"] == RED
    assert closed_recently["emergency_tickets__color"] == YELLOW
    assert open_now["score"] == pytest.approx(100.0)


def test_meeting_cadence_by_priority():
    p1_ok, p1_late, p2_ok, p2_late = score(
        healthy(last_meeting_date=days_ago(35)),
        healthy(last_meeting_date=days_ago(61)),
        healthy(csm_priority="P2", last_meeting_date=days_ago(65)),
        healthy(csm_priority="P2", last_meeting_date=days_ago(91)),
    )
    assert (p1_ok["meeting_cadence__color"], p1_late["meeting_cadence__color"]) == (GREEN, RED)
    assert (p2_ok["meeting_cadence__color"], p2_late["meeting_cadence__color"]) == (GREEN, RED)


def test_segment_applicability():
    digital, scale, growth = score(
        healthy(segment="Digital"), healthy(segment="Scale"), healthy(segment="Growth")
    )
    assert digital["csm_sentiment__na"] == "not measured for Digital"
    assert scale["roi__na"] == "not measured for Scale and Digital"
    assert growth["persona_engagement__na"] == "not measured for Growth, Scale and Digital"
    assert growth["meeting_cadence__color"] == GREEN


@pytest.mark.parametrize(("ci_share", "expected_color"), [(0.33, "green"), (0.0, "green")])
def test_colour_bands(ci_share, expected_color):
    [result] = score(healthy(pipeline_users=round(ci_share * 900)))
    assert result["color"] == expected_color


def test_band_edges():
    definition = {**prove_definition(), "bands": {"green": 75, "yellow": 50}}
    # Only the Risk group measured: a yellow sentiment scores 62 -> yellow; red scores 25 -> red
    rows = [
        healthy(segment="Scale", usage_date=None, tickets_30d=0, csm_sentiment=c)
        for c in ("green", "yellow", "red")
    ]
    colors = [r["color"] for r in score(*rows, definition=definition)]
    assert colors == ["green", "yellow", "red"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["groups"][0]["measures"][1].update(value="ratio(nope, billable_users)"),
            "unknown name 'nope'",
        ),
        (lambda d: d["groups"][0]["measures"][1].update(value="__import__('os')"), "unknown function"),
        (
            lambda d: d["groups"][0]["measures"][1].update(value="billable_users.real"),
            "Attribute is not allowed",
        ),
        (lambda d: d["groups"][0]["measures"][1].update(weight=-1), "weight must be a number >= 0"),
        (lambda d: d["groups"][0]["measures"][1].update(key="scm"), "duplicate measure key 'scm'"),
        (lambda d: d["overrides"][0].update(color="purple"), "color must be one of"),
        (lambda d: d["groups"][0]["measures"][1].pop("green"), "give exactly one of"),
        (lambda d: d["na_rules"][1].update(measures=["nope"]), "unknown measure 'nope'"),
    ],
)
def test_bad_scorecards_are_refused_with_the_place(change, message):
    import copy

    definition = copy.deepcopy(prove_definition())
    change(definition)
    with pytest.raises(ScorecardError, match=message.replace("(", r"\(")):
        build(definition)


def test_an_admin_adds_a_measure_in_yaml_only():
    import copy

    definition = copy.deepcopy(prove_definition())
    definition["groups"][0]["measures"].append(
        {
            "key": "failed_deploy_rate",
            "name": "Failed deployments",
            "weight": 10,
            "format": "percent",
            "value": "ratio(failed_deployments, deployments)",
            "green": "value <= 0.05",
            "yellow": "value <= 0.2",
        }
    )
    [result] = score(healthy(failed_deployments=300, deployments=2000), definition=definition)
    assert result["failed_deploy_rate__value"] == pytest.approx(0.15)
    assert result["failed_deploy_rate__color"] == YELLOW


def test_only_a_counting_red_sentiment_overrides():
    stale_red, digital_red = score(
        healthy(csm_sentiment="red", csm_sentiment_date=days_ago(121)),
        healthy(csm_sentiment="red", segment="Digital"),
    )
    assert stale_red["override"] is None and stale_red["color"] == "green"
    assert digital_red["override"] is None and digital_red["color"] == "green"


def test_composite_value_is_null_when_no_part_has_data():
    [result] = score(
        healthy(deploying_users=None, deployments=None, successful_deployments=None, billable_users=None)
    )
    assert result["cd__value"] is None and result["cd__na"] is not None


def test_several_included_instances_on_one_date_are_added_up():
    from csops.health.features import latest_usage
    from csops.usage.store import USAGE_COUNTERS, USAGE_SCHEMA

    def snapshot(instance, day, billable, included=True):
        return {
            "account_id": 1,
            "instance_id": instance,
            "included_in_health": included,
            "snapshot_date": day,
            **{c: 0 for c in USAGE_COUNTERS},
            "billable_users": billable,
        }

    usage = ibis.memtable(
        pa.Table.from_pylist(
            [
                snapshot("a", days_ago(14), 10),
                snapshot("a", days_ago(7), 40),
                snapshot("b", days_ago(7), 2),
                snapshot("sandbox", days_ago(7), 999, included=False),
                snapshot("a", days_ago(-7), 5),
            ],
            schema=USAGE_SCHEMA,
        )
    )
    [row] = latest_usage(usage, AS_OF).to_pyarrow().to_pylist()
    assert row["usage_date"] == days_ago(7) and row["billable_users"] == 42
