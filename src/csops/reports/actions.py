"""Every write of the reports app: subscribing to a report, unsubscribing, sending the due ones."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from csops.core import audit
from csops.core.models import User
from csops.core.scheduler import business_zone
from csops.programs.outbox import base_url, queue_plain
from csops.reports.models import Frequency, ReportSubscription
from csops.reports.selectors import REPORTS, parse_filters

# A subscription is due again this many days after the day it was last sent (a month: 28 days, so a
# monthly report keeps its weekday and never drifts past a month).
INTERVAL_DAYS = {Frequency.WEEKLY: 7, Frequency.MONTHLY: 28}


def _checked(report: str, filters: dict, frequency: str) -> dict[str, str]:
    """The filters the report takes, checked; ValidationError naming the field otherwise."""
    if report not in REPORTS:
        raise ValidationError({"report": f"{report!r} is not a report; use one of {', '.join(REPORTS)}."})
    if frequency not in Frequency.values:
        raise ValidationError({"frequency": f"{frequency!r} is not one of {', '.join(Frequency.values)}."})
    if not isinstance(filters, dict):
        raise ValidationError({"filters": "Give the filters as a mapping of name to value."})
    parsed, errors = parse_filters(filters, REPORTS[report].filters)
    if errors:
        raise ValidationError({"filters": errors})
    return parsed.given


@transaction.atomic
def subscribe(*, user: User, report: str, filters: dict | None = None,
              frequency: str = Frequency.WEEKLY) -> ReportSubscription:
    """Subscribe `user` to a report with its filters; subscribing again to the same report and filters
    changes the frequency of the one subscription."""
    given = _checked(report, filters or {}, frequency)
    subscription, created = ReportSubscription.objects.select_for_update().get_or_create(
        user=user, report=report, filters_key=urlencode(sorted(given.items())),
        defaults={"filters": given, "frequency": frequency},
    )
    if created:
        audit.record(actor=user, verb="create", obj=subscription,
                     changes=audit.diff({}, audit.snapshot(subscription)))
    elif subscription.frequency != frequency:
        audit.record(actor=user, verb="update", obj=subscription,
                     changes={"frequency": (subscription.frequency, frequency)})
        subscription.frequency = frequency
        subscription.save(update_fields=["frequency"])
    return subscription


@transaction.atomic
def unsubscribe(*, user: User, subscription_id: int) -> bool:
    """Remove one of the user's subscriptions; False when there is none (already removed)."""
    subscription = ReportSubscription.objects.filter(pk=subscription_id, user=user).first()
    if subscription is None:
        return False
    audit.record(actor=user, verb="delete", obj=subscription,
                 changes=audit.diff(audit.snapshot(subscription), {}))
    subscription.delete()
    return True


def due(now: dt.datetime | None = None):
    """Subscriptions never sent, or last sent on a day at least their interval before today (in the
    business time zone), so a daily run sends a weekly report on the same weekday each week."""
    now = now or timezone.now()
    today = now.astimezone(business_zone()).date()
    condition = Q(last_sent_at__isnull=True)
    for frequency, days in INTERVAL_DAYS.items():
        midnight = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=business_zone())
        condition |= Q(frequency=frequency, last_sent_at__lt=midnight)
    return ReportSubscription.objects.filter(condition).select_related("user").order_by("pk")


def report_url(report: str, filters: dict) -> str:
    query = f"?{urlencode(filters)}" if filters else ""
    return base_url() + reverse("reports:report", args=[report]) + query


def send_due_reports(now: dt.datetime | None = None) -> int:
    """Queue each due subscription's report through the outbox (its tables as text and a link to the
    page), each in its own transaction; returns how many were queued. The outbox key carries the day,
    so a second run the same day queues nothing twice."""
    now = now or timezone.now()
    day = now.astimezone(business_zone()).date()
    sent = 0
    for subscription in due(now):
        if not subscription.user.email or subscription.report not in REPORTS:
            continue
        report = REPORTS[subscription.report]
        filters, errors = parse_filters(subscription.filters, report.filters)
        result = report.build(filters)
        text = render_to_string("reports/email.txt", {
            "report": report, "result": result, "filters": filters, "errors": errors,
            "subscription": subscription, "url": report_url(report.slug, filters.given),
            "manage_url": base_url() + reverse("reports:subscriptions"),
        })
        with transaction.atomic():
            claimed = ReportSubscription.objects.filter(
                pk=subscription.pk, last_sent_at=subscription.last_sent_at
            ).update(last_sent_at=now)
            if not claimed:  # another run sent it meanwhile
                continue
            queue_plain(
                key=f"report:{subscription.pk}:{day.isoformat()}", kind="notification",
                to=[subscription.user.email], subject=f"{report.title} ({day:%d %b %Y})", text=text,
            )
        sent += 1
    return sent


def seed_report_subscriptions() -> int:
    """The demo's subscriptions: the leader weekly to the health distribution, the admin monthly to
    the CTA report. Returns how many were made (none on a re-run)."""
    wanted = (("cs-manager.amer", "health-distribution", Frequency.WEEKLY),
              ("admin", "ctas", Frequency.MONTHLY))
    made = 0
    for username, report, frequency in wanted:
        user = User.objects.filter(username=username).first()
        if user and not ReportSubscription.objects.filter(user=user, report=report).exists():
            subscribe(user=user, report=report, frequency=frequency)
            made += 1
    return made
