"""Results pages: one event, or a series of events."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from csops.events.models import Event
from csops.events.results import results


@login_required
def event_results(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    return render(request, "events/results.html", {"title": str(event), "results": results([event])})


@login_required
def series_results(request: HttpRequest, name: str) -> HttpResponse:
    events = list(Event.objects.filter(series=name, cancelled=False))
    if not events:
        raise Http404("No event in this series.")
    return render(request, "events/results.html", {"title": f"Series: {name}", "results": results(events)})
