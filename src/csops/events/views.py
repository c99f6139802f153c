"""The staff pages of the webinar and lab calendar: the calendar by month, an event (its DRI slots,
registrations, lab request, invitation codes and lab spaces) and adding an event. Thin: each post
parses a form and calls one action, which enforces the rules."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from csops.core.permissions import has_perm
from csops.core.views import add_action_errors, require
from csops.events import actions, selectors
from csops.events.attendance import mark_attendance
from csops.events.forms import CalendarFilterForm, EventForm, LabRequestForm
from csops.events.models import DriRole, DriSlot, Event, Registration


def _refusal(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    form = CalendarFilterForm(
        request.GET or None, regions=selectors.choices("region"), series=selectors.choices("series")
    )
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.calendar(
        kind=filters.get("kind", ""),
        region=filters.get("region", ""),
        series=filters.get("series", ""),
        past=filters.get("past", False),
        cse=request.user if filters.get("mine") else None,
    )
    return render(
        request,
        "events/calendar.html",
        {
            "title": "Webinars and labs",
            "months": selectors.by_month(events),
            "form": form,
            "past": filters.get("past", False),
            "can_add": has_perm(request.user, "manage_events"),
            "my_slots": list(selectors.my_slots(request.user))
            if has_perm(request.user, "serve_events") else [],
        },
    )


def _event_page(request: HttpRequest, pk: int, *, lab_form=None, status: int = 200) -> HttpResponse:
    try:
        event = selectors.event(pk)
    except Event.DoesNotExist:
        raise Http404("No such event") from None
    lab_request = selectors.lab_request_of(event)
    slots = list(event.slots.all())
    host = next((s for s in slots if s.role == DriRole.HOST), None)
    is_cse = has_perm(request.user, "serve_events")
    is_host = host is not None and host.cse_id == request.user.pk
    return render(
        request,
        "events/event.html",
        {
            "title": event.title,
            "event": event,
            "local_start": selectors.local_start(event),
            "ends_at": selectors.ends_at(event),
            "slots": slots,
            "registrations": list(event.registrations.all()),
            "codes": list(event.codes.all()),
            "lab_request": lab_request,
            "lab_due": actions.lab_request_due(event) if event.is_lab else None,
            "may_file": event.is_lab and lab_request is None
            and (is_host or has_perm(request.user, "manage_events")),
            "lab_form": lab_form or LabRequestForm(),
            "is_cse": is_cse,
            "may_mark": is_cse and event.starts_at <= timezone.now(),
        },
        status=status,
    )


@login_required
def event(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    return _event_page(request, pk)


@login_required
@require_POST
def sign_up(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "serve_events")
    slot = get_object_or_404(DriSlot, pk=pk)
    try:
        actions.sign_up(slot, cse=request.user, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"You are the {slot.get_role_display().lower()} of this event.")
    return redirect("events:event", slot.event_id)


@login_required
@require_POST
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "serve_events")
    slot = get_object_or_404(DriSlot, pk=pk)
    try:
        actions.leave_slot(slot, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"You left the {slot.get_role_display().lower()} slot.")
    return redirect("events:event", slot.event_id)


@login_required
@require_POST
def lab_request(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "serve_events")
    event = get_object_or_404(Event, pk=pk)
    form = LabRequestForm(request.POST)
    if form.is_valid():
        try:
            actions.file_lab_request(event, actor=request.user, notes=form.cleaned_data["notes"])
        except ValidationError as exc:
            add_action_errors(form, exc)
        else:
            messages.success(request, "Lab environment requested: the invitation codes are below.")
            return redirect("events:event", event.pk)
    return _event_page(request, pk, lab_form=form, status=400)


@login_required
def new(request: HttpRequest) -> HttpResponse:
    require(request, "manage_events")
    form = EventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = actions.create_event(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_action_errors(form, exc)
        else:
            messages.success(request, f"{created.get_kind_display()} added to the calendar.")
            return redirect(created)
    return render(
        request, "events/new.html", {"title": "Add an event", "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one registrant as attended or absent, by hand (a CSE or an admin, once it started)."""
    require(request, "serve_events")
    registration = get_object_or_404(Registration.objects.select_related("event"), pk=pk)
    attended = request.POST.get("attended") == "yes"
    try:
        mark_attendance(registration, attended=attended, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"{registration.name}: {'attended' if attended else 'absent'}.")
    return redirect("events:event", registration.event_id)
