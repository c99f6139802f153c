"""Programs end to end: enrolment, emails through a real SMTP server, a click, the branch, the CTA."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.utils import timezone

from csops.cockpit.models import Cta
from csops.core.configuration import ConfigError, apply_configuration
from csops.customers.models import Segment
from csops.programs.actions import enrol_accounts
from csops.programs.models import Enrolment, OutboxMessage, Program, TrackingEvent
from csops.programs.outbox import deliver
from csops.programs.runner import advance
from csops.programs.selectors import program_results
from csops.rules.actions import run_rules
from csops.rules.tests.conftest import TODAY

LINK = re.compile(r"http://127\.0\.0\.1:8000(/t/[^\s\"<>]+)")


@pytest.fixture
def scale(make_account, contact_for, team):
    """Three Scale accounts on the TAM Scale pool, each with a GitLab Admin contact."""

    def make(**fields):
        account = make_account(
            segment=Segment.objects.get(name="Scale"),
            csm=team["pool"],
            cse=team["cse"],
            csm_sentiment="",
            csm_sentiment_date=None,
            **fields,
        )
        contact_for(account, "GitLab Admin", first_name="Ada")
        return account

    return make


def links_in(message: str) -> list[str]:
    return LINK.findall(message.replace("=\n", ""))


def test_a_program_runs_from_enrolment_to_branch_to_cta(scale, team, smtp_server, client, put_health):
    """The 90 day low licence utilisation journey: a rule enrols, the email carries the CSE's
    Calendly link, one contact clicks it; a week later each gets the CTA its branch says."""
    clicker = scale(contract_start=TODAY - dt.timedelta(days=100))
    silent = scale(contract_start=TODAY - dt.timedelta(days=120))
    for account in (clicker, silent):
        put_health(account, TODAY, license_utilization=(0.5, "yellow"))
    result = run_rules(names=["90 day low licence utilisation journey"], as_of=TODAY).results.get()
    assert result.actions == {"enrol": 2}
    advance()
    report = deliver()
    assert report.sent == 2, list(OutboxMessage.objects.values_list("last_error", flat=True))
    for recipients, text in smtp_server.messages:
        assert recipients == ["gitlab.admin@customer.example"]
        assert "Hello Ada," in text and "cse1" in text  # merge fields: the contact, the CSE
    message = OutboxMessage.objects.get(account=clicker)
    calendly = [
        link for link in links_in(message.text) if client.get(link).url.startswith("https://calendly.com")
    ]
    assert calendly, message.text
    assert client.get(calendly[0]).url == "https://calendly.com/example-cse-amer/30min"
    assert TrackingEvent.objects.filter(message=message, kind="click", link="calendly").exists()

    advance()  # nothing is due: both wait a week
    assert not Cta.objects.exists()
    advance(now=timezone.now() + dt.timedelta(days=8))
    ctas = {c.account: c for c in Cta.objects.select_related("reason")}
    assert ctas[clicker].reason.name == "Low License Utilization - Calendly Clicked"
    assert ctas[silent].reason.name == "Low License Utilization - Calendly Not Clicked"
    assert ctas[clicker].owner == team["cse"] and ctas[clicker].source == "program"
    states = dict(Enrolment.objects.values_list("account", "state"))
    assert states == {clicker.pk: "exited", silent.pk: "done"}

    advance(now=timezone.now() + dt.timedelta(days=9))  # running again repeats nothing
    run_rules(names=["90 day low licence utilisation journey"], as_of=TODAY)
    assert Cta.objects.count() == 2 and OutboxMessage.objects.count() == 2 and Enrolment.objects.count() == 2

    results = program_results(Program.objects.get(name="90 day low license utilization"))
    first, _wait, _branch, clicked_cta, _exit, not_clicked_cta = results["steps"]
    assert first["messages"]["sent"] == 2 and first["messages"]["clicked"] == 1
    assert (clicked_cta["ctas"], not_clicked_cta["ctas"]) == (1, 1)
    assert results["enrolled"] == 2 and results["conversion"]["clicked"] == 1


def test_waits_follow_the_contract_and_the_renewal(scale, smtp_server):
    account = scale(contract_start=TODAY - dt.timedelta(days=3), renewal_date=TODAY + dt.timedelta(days=200))
    series = Program.objects.get(name="Enablement series")
    nps = Program.objects.get(name="Pre-renewal NPS")
    assert enrol_accounts(series, [account.pk]).enrolled == 1
    assert enrol_accounts(nps, [account.pk]).enrolled == 1
    advance()
    waits = dict(Enrolment.objects.values_list("program__name", "next_at"))
    assert waits["Enablement series"].date() == account.contract_start + dt.timedelta(days=15)
    assert waits["Pre-renewal NPS"].date() == account.renewal_date - dt.timedelta(days=120)
    assert not OutboxMessage.objects.exists()
    advance(now=timezone.now() + dt.timedelta(days=13))
    assert OutboxMessage.objects.get().subject == "Faster, safer merges with CI"


def test_enrolment_is_once_per_contact_program_and_period(scale, contact_for):
    account, opted = scale(), scale()
    opted.contacts.update(email_opt_out=True)
    nobody = scale()
    nobody.contacts.all().delete()
    coach = Program.objects.get(name="CI product coach")
    outcome = enrol_accounts(coach, [account.pk, opted.pk, nobody.pk])
    assert (outcome.enrolled, outcome.opted_out, outcome.no_recipient) == (1, 1, 1)
    assert enrol_accounts(coach, [account.pk]).already == 1
    assert Enrolment.objects.get().key.endswith(f":{TODAY:%Y-%m}")  # monthly: once a month
    intro = Program.objects.get(name="CSM/CSE introduction")
    assert enrol_accounts(intro, [account.pk]).enrolled == 1
    assert (
        Enrolment.objects.get(program=intro).key == f"enrol:CSM/CSE introduction:{account.contacts.get().pk}"
    )


def test_unsubscribing_ends_the_journeys(scale, smtp_server, client):
    account = scale(contract_start=TODAY - dt.timedelta(days=1))
    enrol_accounts(Program.objects.get(name="Onboarding series"), [account.pk])
    advance()
    assert deliver().sent == 1
    [(_, text)] = smtp_server.messages
    unsubscribe = re.search(r"http://127\.0\.0\.1:8000(/u/[^\s\"<>]+)", text.replace("=\n", "")).group(1)
    assert "Unsubscribe" in client.get(unsubscribe).content.decode()
    assert client.post(unsubscribe).status_code == 200
    enrolment = Enrolment.objects.get()
    assert (enrolment.state, enrolment.exit_reason) == ("exited", "unsubscribed")
    assert account.contacts.get().email_opt_out
    advance(now=timezone.now() + dt.timedelta(days=5))
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"send": "No such template"}], "step 1 (send): unknown email template 'No such template'"),
        ([{"wait": {"weeks": 2}}], "step 1 (wait): give one of days"),
        ([{"branch": {"clicked": "calendly", "then": "nowhere"}}], "no step is labelled 'nowhere'"),
        ([{"create_cta": {"type": "Risk", "reason": "EBR"}}], "'EBR' is not a reason of 'Risk'"),
        ([{"survey": "Nope"}], "unknown survey 'Nope'"),
        ([{"send": "21 day check in", "wait": {"days": 1}}], "a step is one of"),
    ],
)
def test_bad_programs_are_refused_with_the_step_named(config, tmp_path: Path, steps, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Program(name="Mine", steps=steps).full_clean()
    (tmp_path / "programs.yaml").write_text(yaml.safe_dump([{"name": "Mine", "steps": steps}]))
    with pytest.raises(ConfigError, match=re.escape("programs.yaml: item 1 ('Mine')")):
        apply_configuration(tmp_path)
    assert not Program.objects.filter(name="Mine").exists()


def test_bad_templates_are_refused_with_the_field_named(config):
    from csops.programs.models import EmailTemplate

    for text, message in [
        ("Hi {{ contact.nickname }}", "unknown merge field {{ contact.nickname }}"),
        ("Hi {{ secret_key }}", "unknown merge field {{ secret_key }}"),
        ("{% for x in contact %}{% endfor %}", "only merge fields"),
        ("{% load static %}", "not a registered tag library"),
        ("Hi {{ contact.first_name|upper }}", "filters are not allowed"),
        ("{% if %}", "text:"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(message)):
            EmailTemplate(name="t", subject="s", text=text).full_clean()


def test_the_campaign_cse_is_the_named_one_else_the_accounts_else_the_pools_for_its_geo(
    make_account, team
):
    from csops.core.models import User
    from csops.customers.models import Geo
    from csops.programs.models import CseAssignment
    from csops.programs.runner import assignments

    emea = Geo.objects.get(name="EMEA")
    second = User.objects.create(username="cse2", email="cse2@example.com", geo=team["cse"].geo,
                                 pool=team["pool"])
    digital = Segment.objects.get(name="Digital")
    own = make_account(segment=digital, csm=None, cse=second)
    pooled = [make_account(segment=Segment.objects.get(name="Scale"), csm=team["pool"], cse=None)
              for _ in range(2)]
    unmanaged = make_account(segment=digital, csm=None, cse=None)
    nobody = make_account(segment=digital, csm=None, cse=None, geo=emea)  # no CSE in EMEA
    found = assignments()
    assert found.cse(own) == second
    # Spread over the geo's pool members by account id, as the rules spread a pool's accounts.
    members = [team["cse"], second]
    assert {found.cse(a) for a in pooled} == set(members)
    assert found.cse(pooled[0]) == members[pooled[0].pk % 2]
    assert found.cse(unmanaged) == members[unmanaged.pk % 2]
    assert found.cse(nobody) is None
    assert found.cse(make_account(segment=digital, cse=None)) is None  # a named CSM: no pool fallback
    CseAssignment.objects.filter(segment=digital).update(cse=team["csm"])
    assert assignments().cse(own) == team["csm"]  # the one named for the segment and geo wins
