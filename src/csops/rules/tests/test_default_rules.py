"""Each shipped rule fires on an account that matches it and not on a near miss."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

import pytest
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import Cta, CtaType
from csops.customers.models import Opportunity, Segment
from csops.programs.models import Enrolment, OutboxMessage, Survey, SurveyInvitation
from csops.programs.surveys import answer, digest
from csops.rules.actions import run_rules
from csops.rules.models import Rule
from csops.rules.tests.conftest import TODAY

BEFORE = TODAY - dt.timedelta(days=7)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def effects(account, rule: str) -> set[str]:
    """What the rule did to the account: CTAs raised or closed, enrolments made."""
    done = {
        f"cta:{c.type.name}/{c.reason.name}" for c in Cta.objects.filter(account=account, source_ref=rule)
    }
    done |= {f"closed:{c.reason.name}" for c in Cta.objects.filter(account=account).exclude(closed_at=None)}
    done |= {f"enrol:{e.program.name}" for e in Enrolment.objects.filter(account=account)}
    return done


def drop(ctx, colour_before: str, colour_now: str):
    account = ctx.make_account()
    ctx.put_health(account, BEFORE, ci=(0.4, colour_before))
    ctx.put_health(account, TODAY, ci=(0.2, colour_now))
    return account


def licence(ctx, value: float, colour: str, **fields):
    account = ctx.make_account(**fields)
    ctx.put_health(account, TODAY, license_utilization=(value, colour))
    return account


def at_risk_cta(account):
    risk = CtaType.objects.get(name="Risk")
    create_cta(account, actor=None, type=risk, reason=risk.reasons.get(name="At-Risk"))
    return account


def scale_account(ctx, **fields):
    """A Scale account on the TAM Scale pool with a GitLab Admin contact (a program recipient)."""
    values = {
        "segment": Segment.objects.get(name="Scale"),
        "csm": ctx.team["pool"],
        "csm_sentiment": "",
        "csm_sentiment_date": None,
        **fields,
    }
    account = ctx.make_account(**values)
    ctx.contact_for(account, "GitLab Admin")
    return account


def ci_coloured(ctx, colour: str):
    account = scale_account(ctx)
    ctx.put_health(account, TODAY, ci=(0.2, colour))
    return account


def scale_with_admin(ctx, contract_days: int):
    account = licence(
        ctx,
        0.6,
        "yellow",
        segment=Segment.objects.get(name="Scale"),
        csm=ctx.team["pool"],
        contract_start=days(-contract_days),
        csm_sentiment="",
        csm_sentiment_date=None,
    )
    ctx.contact_for(account, "Sold-to")
    ctx.contact_for(account, "GitLab Admin")
    return account


def with_opportunity(ctx, net_arr: int):
    account = ctx.make_account()
    Opportunity.objects.create(
        external_id=f"O-{account.pk}",
        account=account,
        name="Expansion",
        type="add_on",
        arr_basis=Decimal("0"),
        net_arr=Decimal(net_arr),
        close_date=days(60),
        stage="Negotiating",
        forecast_category="commit",
    )
    return account


def survey_answer(ctx, survey: str, score: int):
    """An account whose GitLab Admin contact answered the survey with the score, through its link."""
    account = ctx.make_account()
    token = secrets.token_urlsafe(32)
    SurveyInvitation.objects.create(
        survey=Survey.objects.get(name=survey),
        account=account,
        contact=ctx.contact_for(account, "GitLab Admin"),
        digest=digest(token),
        key=f"test:{token}",
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    answer(token, score=score, comment="")
    return account


# rule: (make a matching account, make a near miss, what the rule does to the match)
CASES = {
    "Product health drop": (
        lambda ctx: drop(ctx, "green", "yellow"),
        lambda ctx: drop(ctx, "yellow", "yellow"),
        "cta:Risk/Product Risk",
    ),
    "Upcoming renewal": (
        lambda ctx: ctx.make_account(renewal_date=days(100)),
        lambda ctx: ctx.make_account(renewal_date=days(130)),
        "cta:Renewal/Upcoming Renewal",
    ),
    "New customer onboarding": (
        lambda ctx: ctx.make_account(contract_start=days(-10), renewal_date=days(355)),
        lambda ctx: ctx.make_account(contract_start=days(-40), renewal_date=days(325)),
        "cta:Lifecycle/New Customer Onboarding",
    ),
    "At-risk: red CSM sentiment": (
        lambda ctx: ctx.make_account(csm_sentiment="red"),
        lambda ctx: ctx.make_account(csm_sentiment="yellow"),
        "cta:Risk/At-Risk",
    ),
    "At-risk resolved: sentiment back to green": (
        lambda ctx: at_risk_cta(ctx.make_account(csm_sentiment="green")),
        lambda ctx: at_risk_cta(ctx.make_account(csm_sentiment="yellow")),
        "closed:At-Risk",
    ),
    "High licence utilisation": (
        lambda ctx: licence(ctx, 0.92, "green"),
        lambda ctx: licence(ctx, 0.88, "green"),
        "cta:Lifecycle/High License Utilization",
    ),
    "Low licence utilisation": (
        lambda ctx: licence(ctx, 0.45, "red", contract_start=days(-200)),
        lambda ctx: licence(ctx, 0.45, "red", contract_start=days(-60), renewal_date=days(305)),
        "cta:Risk/Low License Utilization",
    ),
    "90 day low licence utilisation journey": (
        lambda ctx: scale_with_admin(ctx, 120),
        lambda ctx: scale_with_admin(ctx, 160),
        "enrol:90 day low license utilization",
    ),
    "Executive business review": (
        lambda ctx: ctx.make_account(segment=Segment.objects.get(name="Strategic"), renewal_date=days(152)),
        lambda ctx: ctx.make_account(segment=Segment.objects.get(name="Strategic"), renewal_date=days(213)),
        "cta:Lifecycle/EBR",
    ),
    "Large opportunity": (
        lambda ctx: with_opportunity(ctx, 60_000),
        lambda ctx: with_opportunity(ctx, 40_000),
        "cta:Expansion/Expansion Opportunity",
    ),
    "Stale CSM sentiment": (
        lambda ctx: ctx.make_account(csm_sentiment_date=days(-100)),
        lambda ctx: ctx.make_account(csm_sentiment_date=days(-80)),
        "cta:Lifecycle/Health Update Due",
    ),
    "Survey: detractor or unsatisfied": (
        lambda ctx: survey_answer(ctx, "Pre-renewal NPS", 6),
        lambda ctx: survey_answer(ctx, "Pre-renewal NPS", 7),
        "cta:Risk/Survey Detractor",
    ),
    "Survey: positive answer": (
        lambda ctx: survey_answer(ctx, "Quarterly CSAT", 4),
        lambda ctx: survey_answer(ctx, "Quarterly CSAT", 3),
        "cta:Lifecycle/Positive Survey Response",
    ),
    "New Scale and Digital customers": (
        lambda ctx: scale_account(ctx, contract_start=days(-5), renewal_date=days(360)),
        lambda ctx: scale_account(ctx, contract_start=days(-20), renewal_date=days(345)),
        "enrol:21 day check in",
    ),
    "CI product coach": (
        lambda ctx: ci_coloured(ctx, "yellow"),
        lambda ctx: ci_coloured(ctx, "green"),
        "enrol:CI product coach",
    ),
    "CI lab invitation": (
        lambda ctx: ci_coloured(ctx, "red"),
        lambda ctx: ci_coloured(ctx, "green"),
        "enrol:CI lab invitation",
    ),
    "Security lab invitation": (
        lambda ctx: scale_account(ctx, tier="ultimate"),
        lambda ctx: scale_account(ctx, tier="premium"),
        "enrol:Security lab invitation",
    ),
    "Pre-renewal NPS": (
        lambda ctx: scale_account(ctx, renewal_date=days(130)),
        lambda ctx: scale_account(ctx, renewal_date=days(110)),
        "enrol:Pre-renewal NPS",
    ),
    "Quarterly CSAT": (
        lambda ctx: scale_account(ctx, contract_start=days(-200)),
        lambda ctx: scale_account(ctx, contract_start=days(-60), renewal_date=days(305)),
        "enrol:Quarterly CSAT",
    ),
}


class Context:
    def __init__(self, make_account, put_health, contact_for, team):
        self.make_account, self.put_health, self.contact_for, self.team = (
            make_account,
            put_health,
            contact_for,
            team,
        )


def test_every_shipped_rule_has_a_case(config):
    assert set(Rule.objects.values_list("name", flat=True)) == set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_shipped_rule_fires_on_a_match_and_not_on_a_near_miss(
    rule, make_account, put_health, contact_for, team
):
    ctx = Context(make_account, put_health, contact_for, team)
    make_match, make_near_miss, expected = CASES[rule]
    match, near_miss = make_match(ctx), make_near_miss(ctx)
    run = run_rules(names=[rule], as_of=TODAY)
    result = run.results.get()
    assert result.error == ""
    assert expected in effects(match, rule)
    assert expected not in effects(near_miss, rule)
    assert result.audience >= 1


def test_onboarding_sets_the_lifecycle_stage_and_red_sentiment_tells_the_manager(make_account, team):
    new = make_account(contract_start=days(-5), renewal_date=days(360), lifecycle_stage="adoption")
    red = make_account(csm_sentiment="red")
    run_rules(names=["New customer onboarding", "At-risk: red CSM sentiment"], as_of=TODAY)
    new.refresh_from_db()
    assert new.lifecycle_stage == "onboarding"
    [message] = OutboxMessage.objects.all()
    assert message.to == team["manager"].email and message.kind == "notification"
    assert red.name in message.text and "turned red" in message.subject
    cta = Cta.objects.get(account=red)
    assert cta.owner == team["csm"] and cta.priority == "urgent" and cta.tasks.count() == 4
