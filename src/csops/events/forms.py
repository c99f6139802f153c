"""The forms of the event pages. They parse and offer choices; the rules (capacity, the waitlist,
the lab request deadline, who may be a DRI, redeeming a code) are the actions'."""

from __future__ import annotations

import zoneinfo

from django import forms

from csops.events.models import EventKind

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
KINDS = [("", "All kinds"), *EventKind.choices]


class EventForm(forms.Form):
    kind = forms.ChoiceField(choices=EventKind.choices)
    title = forms.CharField(label="Topic", max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    starts_at = forms.DateTimeField(
        label="Starts at", widget=DATETIME, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text="Local time in the event's time zone.",
    )
    time_zone = forms.CharField(initial="America/Los_Angeles", max_length=64,
                                help_text="e.g. America/Los_Angeles, Europe/Berlin, Asia/Singapore.")
    region = forms.CharField(max_length=20, required=False, help_text="AMER, EMEA, APJ…")
    series = forms.CharField(max_length=100, required=False, help_text="e.g. CI lab.")
    capacity = forms.IntegerField(min_value=1, required=False, help_text="Empty: no limit.")
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, max_value=1440,
                                          required=False, help_text="Empty: the policy's (60, labs 120).")
    lab_access_days = forms.IntegerField(min_value=1, max_value=30, required=False,
                                         help_text="Labs: days a lab space stays open (2 or 4).")
    panelists = forms.IntegerField(label="Q&A panelist slots", min_value=0, max_value=10, initial=1)
    related_measure = forms.CharField(max_length=50, required=False, help_text="Health measure, e.g. ci.")
    join_url = forms.URLField(required=False, assume_scheme="https")
    recording_url = forms.URLField(required=False, assume_scheme="https")
    deck_url = forms.URLField(required=False, assume_scheme="https")

    def clean(self):
        data = super().clean()
        name, start = data.get("time_zone"), data.get("starts_at")
        try:
            zone = zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.add_error("time_zone", f"Not a time zone: {name!r} (e.g. America/Los_Angeles).")
            return data
        if zone and start:
            # the time was typed as the event's local time, whatever the server's zone
            data["starts_at"] = start.replace(tzinfo=None).replace(tzinfo=zone)
        return data


class CalendarFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=KINDS, required=False)
    region = forms.ChoiceField(choices=[("", "All regions")], required=False)
    series = forms.ChoiceField(choices=[("", "All series")], required=False)
    past = forms.BooleanField(label="Past events", required=False)
    mine = forms.BooleanField(label="My DRI slots", required=False)

    def __init__(self, *args, regions=(), series=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "All regions"), *((r, r) for r in regions)]
        self.fields["series"].choices = [("", "All series"), *((s, s) for s in series)]


class LabRequestForm(forms.Form):
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                            help_text="Anything the environment needs (projects, runners…).")


class RegistrationForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    company = forms.CharField(max_length=200, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "organization"}))


class RedeemForm(forms.Form):
    code = forms.CharField(label="Invitation code", max_length=60,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    email = forms.EmailField(label="The email you registered with",
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
