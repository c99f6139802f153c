"""The demo's programs, end to end on its synthetic data: the rule pack enrols, five weeks are
replayed, every email reaches the demo's own mail catcher (a real SMTP server), and the journeys'
branches raise the CTAs their clicks call for."""

from __future__ import annotations

import email
import email.policy

from django.core.management import call_command
from django.db.models import Count

from csops.cockpit.models import Cta
from csops.conftest import free_port
from csops.programs.models import Enrolment, OutboxMessage, SurveyInvitation, SurveyResponse, TrackingEvent
from csops.programs.selectors import program_results

JOURNEY = "90 day low license utilization"


def test_the_demo_runs_programs_from_enrolment_to_branch_to_cta(db, settings, tmp_path):
    settings.DATA_DIR, settings.EMAIL_HOST, settings.EMAIL_PORT = tmp_path, "127.0.0.1", free_port()
    call_command("demo", "--accounts", "300", "--no-serve")

    # Enrolled by the default rules, one contact per account and program.
    enrolled = dict(Enrolment.objects.values_list("program__name").annotate(n=Count("id")))
    for program in ("CSM/CSE introduction", "Onboarding series", "CI product coach", JOURNEY):
        assert enrolled.get(program, 0) > 0, enrolled

    # Every email was sent, once, and the catcher holds it: the recipient and the merged greeting.
    sent = OutboxMessage.objects.filter(kind="program")
    assert sent.count() > 50 and not sent.exclude(status="sent").exists()
    caught = {}
    for path in (tmp_path / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        caught[message["Message-ID"]] = message
    assert len(caught) == OutboxMessage.objects.filter(status="sent").count()
    for row in sent.select_related("contact")[:20]:
        message = caught[row.message_id]
        assert message["To"] == row.to == row.contact.email
        assert row.contact.first_name in message.get_body(("plain",)).get_content()

    # The journey's branch: each finished enrolment got the CTA its Calendly click (or none) calls for.
    finished = Enrolment.objects.filter(program__name=JOURNEY, state__in=["done", "exited"])
    assert finished.exists()
    for enrolment in finished.select_related("account"):
        clicked = TrackingEvent.objects.filter(
            message__enrolment=enrolment, kind="click", link="calendly"
        ).exists()
        reason = "Calendly Clicked" if clicked else "Calendly Not Clicked"
        cta = Cta.objects.get(account=enrolment.account, source="program", reason__name__endswith=reason)
        assert cta.reason.name == f"Low License Utilization - {reason}"
        assert cta.owner.function == "cse"

    # Surveys went out and some were answered through their links; the survey rules heard of it.
    answers = SurveyResponse.objects.all()
    assert answers.exists() and answers.count() < SurveyInvitation.objects.count()
    detractors = answers.filter(category__in=["detractor", "dissatisfied", "neutral"]).values("account")
    raised = Cta.objects.filter(source="rule", reason__name="Survey Detractor").values("account")
    assert set(raised.values_list("account", flat=True)) <= set(detractors.values_list("account", flat=True))
    assert raised.exists() or not detractors.exists()

    # The program's page counts the same CTAs at the steps that raised them.
    steps = program_results(finished.first().program)["steps"]
    assert sum(step["ctas"] for step in steps) == finished.count()

    # The demo's CSE engagement requests went through the batch: each has its CTA, with the suffix.
    from csops.engagements.models import NAME_SUFFIX, EngagementRequest

    requests = EngagementRequest.objects.select_related("cta")
    assert requests.count() == 6 and all(r.cta.name.endswith(NAME_SUFFIX) for r in requests)
    assert requests.filter(follow_ups__done_at__isnull=False).distinct().count() == 2
    from csops.engagements.models import Escalation

    escalated = Escalation.objects.all()
    assert escalated.count() == 2
    assert all(e.qualified or (e.overridden_by and e.override_reason) for e in escalated)
