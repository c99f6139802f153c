"""Events as iCalendar (RFC 5545): the public feed, one event's file, and the attachment of a
registration's confirmation email. Times are written in UTC, which every calendar reads alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import icalendar
from django.conf import settings
from django.utils import timezone

from csops.events.models import Event
from csops.events.selectors import ends_at

PRODID = "-//csops//webinars and labs//EN"


def uid(event: Event) -> str:
    return f"event-{event.pk}@csops"


def vevent(event: Event, *, url: str = "") -> icalendar.Event:
    item = icalendar.Event()
    item.add("uid", uid(event))
    item.add("dtstamp", timezone.now().astimezone(dt.UTC))
    item.add("dtstart", event.starts_at.astimezone(dt.UTC))
    item.add("dtend", ends_at(event).astimezone(dt.UTC))
    item.add("summary", f"{event.get_kind_display()}: {event.title}")
    lines = [event.description] if event.description else []
    if event.join_url:
        lines.append(f"Join: {event.join_url}")
    if event.recording_url:
        lines.append(f"Recording: {event.recording_url}")
    if event.deck_url:
        lines.append(f"Deck: {event.deck_url}")
    if lines:
        item.add("description", "\n\n".join(lines))
    if event.join_url:
        item.add("location", event.join_url)
    if url:
        item.add("url", url)
    item.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    return item


def calendar(events: Iterable[Event], *, url_for: Callable[[Event], str] | None = None,
             name: str = "") -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name or f"{settings.CSOPS_ORGANISATION['name']} webinars and labs")
    for event in events:
        cal.add_component(vevent(event, url=url_for(event) if url_for else ""))
    return cal.to_ical()
