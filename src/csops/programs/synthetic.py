"""Synthetic program history for the demo: the last weeks replayed day by day.

The programs' runner walks the enrolments as if each past day were today, the outbox delivers
what it queued (to the demo's mail catcher), and contacts of well-fitting accounts open and click
some of their emails (synthetic, like the demo's usage), so branches, CTAs and results have data.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import numpy as np
from django.utils import timezone

from csops.programs import outbox, runner
from csops.programs.models import EmailTemplate, OutboxMessage, Program, TrackingEvent
from csops.usage.synthetic import account_fit


def replay_days(*, days: int, seed: int = 1, progress: Callable[[str], None] = lambda m: None) -> dict:
    rng = random.Random(seed)
    today = timezone.now()
    seen: set[int] = set(OutboxMessage.objects.values_list("pk", flat=True))
    totals = {"sent": 0, "opened": 0, "clicked": 0}
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
    progress(
        f"  programs: {totals['sent']:,} emails sent over {days} days, {totals['opened']:,} opened, "
        f"{totals['clicked']:,} with a click (synthetic engagement)"
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
