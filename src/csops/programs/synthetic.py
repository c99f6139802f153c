"""Synthetic program history for the demo: the last weeks replayed day by day.

The programs' runner walks the enrolments as if each past day were today, the outbox delivers
what it queued (to the demo's mail catcher), and contacts of well-fitting accounts open and click
some of their emails and answer some surveys through their own links (synthetic, like the demo's
usage), so branches, CTAs, survey results and the survey rules have data.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from urllib.parse import urlsplit

import numpy as np
from django.utils import timezone

from csops.programs import outbox, runner, surveys
from csops.programs.merge import URL
from csops.programs.models import EmailTemplate, OutboxMessage, Program, SurveyInvitation, TrackingEvent
from csops.usage.synthetic import account_fit


def replay_days(*, days: int, seed: int = 1, progress: Callable[[str], None] = lambda m: None) -> dict:
    rng = random.Random(seed)
    today = timezone.now()
    seen: set[int] = set(OutboxMessage.objects.values_list("pk", flat=True))
    totals = {"sent": 0, "opened": 0, "clicked": 0, "answered": 0}
    for back in range(days, -1, -1):
        runner.advance(now=today - dt.timedelta(days=back))
        report = outbox.deliver()
        totals["sent"] += report.sent
        new = list(
            OutboxMessage.objects.filter(kind__in=["program", "survey"], status="sent")
            .exclude(pk__in=seen)
            .values_list("pk", "account_id", "enrolment__program__name", "step")
        )
        seen |= {row[0] for row in new}
        _engage(new, booking_steps(), rng, seed, totals)
        _answer_surveys([row[0] for row in new], rng, seed, totals)
    progress(
        f"  programs: {totals['sent']:,} emails sent over {days} days, {totals['opened']:,} opened, "
        f"{totals['clicked']:,} with a click, {totals['answered']:,} surveys answered (synthetic)"
    )
    return totals


def booking_steps() -> set[tuple[str, int]]:
    """(program, step) of the emails that carry a Calendly link."""
    booking = set(EmailTemplate.objects.filter(text__contains="calendly_link").values_list("name", flat=True))
    return {
        (program.name, index)
        for program in Program.objects.all()
        for index, step in enumerate(program.steps)
        if step.get("send") in booking
    }


def _engage(messages: list[tuple], booking: set, rng: random.Random, seed: int, totals: dict) -> None:
    """Opens and Calendly clicks, likelier for accounts that use the product well."""
    if not messages:
        return
    fits = account_fit(np.array([row[1] for row in messages], np.int64), seed)
    events = []
    for (pk, _, program, step), fit in zip(messages, fits, strict=True):
        if rng.random() < 0.35 + 0.4 * fit:
            events.append(TrackingEvent(message_id=pk, kind=TrackingEvent.Kind.OPEN))
            totals["opened"] += 1
            if (program, step) in booking and rng.random() < 0.15 + 0.4 * fit:
                events.append(
                    TrackingEvent(
                        message_id=pk,
                        kind=TrackingEvent.Kind.CLICK,
                        link="calendly",
                        url="https://calendly.com/",
                    )
                )
                totals["clicked"] += 1
    TrackingEvent.objects.bulk_create(events, batch_size=2000)


COMMENTS = {
    "detractor": "Pipelines keep failing and we could not get help in time.",
    "passive": "Works, but the onboarding took longer than we hoped.",
    "promoter": "The CI templates saved our team weeks.",
    "dissatisfied": "The session did not cover what we needed.",
    "neutral": "",
    "satisfied": "Clear and useful, thank you.",
}


def _answer_surveys(message_ids: list[int], rng: random.Random, seed: int, totals: dict) -> None:
    """A share of the invited answer through their own link, as a contact would; fitter accounts
    score higher. The token is read back from the email, since only its digest is stored."""
    invited = list(
        SurveyInvitation.objects.filter(message_id__in=message_ids).select_related("survey", "message")
    )
    if not invited:
        return
    fits = account_fit(np.array([i.account_id for i in invited], np.int64), seed + 1)
    for invitation, fit in zip(invited, fits, strict=True):
        token = _survey_token(invitation.message.text)
        if token is None or rng.random() > 0.25 + 0.3 * fit:
            continue
        low, high = surveys.SCORES[invitation.survey.kind]
        score = min(high, max(low, round(low + (high - low) * (0.25 + 0.75 * fit) + rng.gauss(0, 1))))
        comment = COMMENTS[surveys.category(invitation.survey.kind, score)] if rng.random() < 0.6 else ""
        surveys.answer(token, score=score, comment=comment)
        totals["answered"] += 1


def _survey_token(text: str) -> str | None:
    for link in URL.findall(text):
        parts = urlsplit(link).path.split("/")
        value = outbox.read_token(parts[2], outbox.TRACK_SALT) if parts[1:2] == ["t"] else None
        if isinstance(value, list) and value[1] == "survey":
            return urlsplit(value[2]).path.split("/")[2]
    return None
