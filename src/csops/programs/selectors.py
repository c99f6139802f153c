"""Reads for the programs pages: enrolments, and per step what was sent, opened, clicked."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, Min, OuterRef, Q

from csops.cockpit.models import Cta, Source
from csops.programs import outbox
from csops.programs.journey import build_steps
from csops.programs.merge import render
from csops.programs.models import (
    EmailTemplate,
    Enrolment,
    EnrolmentState,
    MessageStatus,
    OutboxMessage,
    Program,
    TrackingEvent,
)
from csops.timeline.models import Activity

MEETING_WITHIN_DAYS = 30


def programs_with_counts() -> list[Program]:
    return list(
        Program.objects.annotate(
            active_count=Count("enrolments", filter=Q(enrolments__state=EnrolmentState.ACTIVE)),
            done_count=Count("enrolments", filter=Q(enrolments__state=EnrolmentState.DONE)),
            exited_count=Count("enrolments", filter=Q(enrolments__state=EnrolmentState.EXITED)),
        )
    )


def _event(kind: str, link: str | None = None) -> Exists:
    events = TrackingEvent.objects.filter(message=OuterRef("pk"), kind=kind)
    return Exists(events.filter(link=link) if link else events)


def step_results(program: Program) -> list[dict]:
    """Per step: how many enrolments wait there, and its emails sent, opened, clicked, unsubscribed."""
    steps = build_steps(program.steps, program.name)
    waiting = dict(
        program.enrolments.filter(state=EnrolmentState.ACTIVE)
        .values("step")
        .annotate(n=Count("pk"))
        .values_list("step", "n")
    )
    messages = (
        OutboxMessage.objects.filter(enrolment__program=program)
        .annotate(opened=_event("open"), clicked=_event("click"), left=_event("unsubscribe"))
        .values("step")
        .annotate(
            queued=Count("pk"),
            sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
            bounced=Count("pk", filter=Q(status=MessageStatus.BOUNCED)),
            opened=Count("pk", filter=Q(opened=True)),
            clicked=Count("pk", filter=Q(clicked=True)),
            unsubscribed=Count("pk", filter=Q(left=True)),
        )
    )
    by_step = {row["step"]: row for row in messages}
    ctas = dict(
        Cta.objects.filter(source=Source.PROGRAM, source_ref__startswith=f"{program.name} · step ")
        .values("source_ref")
        .annotate(n=Count("pk"))
        .values_list("source_ref", "n")
    )
    return [
        {
            "number": index + 1,
            "step": step,
            "waiting": waiting.get(index, 0),
            "messages": by_step.get(index, {}),
            "ctas": ctas.get(f"{program.name} · step {index + 1}", 0),
        }
        for index, step in enumerate(steps)
    ]


def clicks_to_meetings(program: Program, link: str = "calendly") -> dict:
    """Of the accounts that clicked `link` in this program, how many logged a call or meeting within
    30 days after their first click: did the booking link book meetings? Two queries."""
    first_click = dict(
        TrackingEvent.objects.filter(kind="click", link=link, message__enrolment__program=program)
        .values("message__account_id")
        .annotate(first=Min("at"))
        .values_list("message__account_id", "first")
    )
    meetings: dict[int, list[dt.date]] = {}
    if first_click:
        earliest = min(first_click.values()).date()
        for account_id, day in Activity.objects.filter(
            account_id__in=list(first_click), type__counts_as_meeting=True, date__gte=earliest
        ).values_list("account_id", "date"):
            meetings.setdefault(account_id, []).append(day)
    window = dt.timedelta(days=MEETING_WITHIN_DAYS)
    met = sum(
        any(at.date() <= day <= at.date() + window for day in meetings.get(account, []))
        for account, at in first_click.items()
    )
    return {"link": link, "clicked": len(first_click), "meetings": met, "within_days": MEETING_WITHIN_DAYS}


def program_results(program: Program) -> dict:
    counts = dict(program.enrolments.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {
        "steps": step_results(program),
        "enrolments": counts,
        "enrolled": sum(counts.values()),
        "conversion": clicks_to_meetings(program),
        "recent": list(program.enrolments.select_related("account", "contact").order_by("-enrolled_at")[:25]),
    }


def preview(template: EmailTemplate, account) -> dict:
    """The template for the account's program recipient (or any contact), links as they are."""
    from csops.programs.actions import recipients
    from csops.programs.runner import assignments, merge_context

    contact = recipients([account.pk]).get(account.pk) or account.contacts.first()
    if contact is None:
        return {"error": f"{account} has no contact to preview for."}
    enrolment = Enrolment(account=account, contact=contact)
    context, links = merge_context(enrolment, assignments())
    context |= {f"{name}_link": url for name, url in links.items()}
    context |= {
        "survey_link": f"{outbox.base_url()}/s/preview/",
        "unsubscribe_link": f"{outbox.base_url()}/u/preview/",
    }
    return {"contact": contact, "rendered": render(template, context)}
