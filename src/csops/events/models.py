"""Webinars and hands-on labs (seed 004): a calendar of events with DRI slots CSEs sign up for,
public registration, lab environment requests with their invitation codes, lab spaces, attendance."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class EventPolicy(models.Model):
    """The rules of the webinar and lab calendar (configuration, `event_policies.yaml`); the one
    named "default" applies."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    lab_request_days = models.PositiveSmallIntegerField(
        default=7, help_text="A lab's environment request is due this many days before delivery."
    )
    lab_access_days = models.PositiveSmallIntegerField(
        default=2, help_text="Days a lab space stays open after the lab, unless the event says 4 (or other)."
    )
    webinar_minutes = models.PositiveSmallIntegerField(default=60)
    lab_minutes = models.PositiveSmallIntegerField(default=120)
    reminder_minutes = models.JSONField(
        default=list, blank=True, help_text="Reminders before the start, in minutes (e.g. [1440, 60])."
    )
    unfilled_slot_days = models.PositiveSmallIntegerField(
        default=7, help_text="A DRI slot still open this many days ahead is flagged to the CSE manager."
    )
    cse_manager = models.CharField(
        max_length=150, blank=True, help_text="Username told of open DRI slots; empty: the CS Ops admins."
    )
    follow_up_hours = models.PositiveSmallIntegerField(
        default=24, help_text="The post-event email (recording, deck) goes out within this many hours."
    )

    class Meta:
        verbose_name_plural = "event policies"

    def __str__(self) -> str:
        return self.name


class EventKind(models.TextChoices):
    WEBINAR = "webinar", "Webinar"
    LAB = "lab", "Hands-on lab"


class Event(models.Model):
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    title = models.CharField("topic", max_length=200)
    description = models.TextField(blank=True)
    series = models.CharField(max_length=100, blank=True, help_text="e.g. CI lab: groups events for results.")
    starts_at = models.DateTimeField(db_index=True)
    duration_minutes = models.PositiveSmallIntegerField()
    time_zone = models.CharField(max_length=64, default="America/Los_Angeles")
    region = models.CharField(max_length=20, blank=True, help_text="AMER, EMEA, APJ…")
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    join_url = models.URLField(blank=True)
    recording_url = models.URLField(blank=True)
    deck_url = models.URLField(blank=True)
    lab_access_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Labs: days a lab space stays open (2 or 4); empty: the policy's."
    )
    related_measure = models.CharField(
        max_length=50, blank=True, help_text="The health measure the event should move, e.g. ci."
    )
    cancelled = models.BooleanField(default=False)
    follow_up_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "pk"]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("events:event", args=[self.pk])

    @property
    def is_lab(self) -> bool:
        return self.kind == EventKind.LAB


class DriRole(models.TextChoices):
    HOST = "host", "Host"
    PANELIST = "panelist", "Q&A panelist"


class DriSlot(models.Model):
    """A directly responsible individual's seat at an event, which a CSE signs up for."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="slots")
    role = models.CharField(max_length=10, choices=DriRole.choices)
    seat = models.PositiveSmallIntegerField(default=1)
    cse = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="dri_slots"
    )
    signed_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event", "role", "seat"]
        constraints = [models.UniqueConstraint(fields=["event", "role", "seat"], name="dri_slot_once")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.seat} of {self.event}"


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", "Registered"
    WAITLISTED = "waitlisted", "Waitlisted"
    CANCELLED = "cancelled", "Cancelled"


class Registration(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    company = models.CharField(max_length=200, blank=True)
    account = models.ForeignKey(
        "customers.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="event_registrations",
    )
    status = models.CharField(
        max_length=12, choices=RegistrationStatus.choices, default=RegistrationStatus.REGISTERED
    )
    registered_at = models.DateTimeField(auto_now_add=True)
    attended = models.BooleanField(null=True, blank=True, help_text="Empty until attendance is recorded.")
    attended_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["event", "registered_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["event", "email"], name="registration_once")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> for {self.event}"


class CodeKind(models.TextChoices):
    PRODUCTION = "production", "Production"
    TESTING = "testing", "Testing"


class LabRequest(models.Model):
    """The lab DRI's environment request, due a week before delivery; it yields the invitation codes."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="lab_request")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Lab request for {self.event}"


class InvitationCode(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="codes")
    kind = models.CharField(max_length=10, choices=CodeKind.choices)
    code = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "kind"], name="one_code_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} code of {self.event}"


class LabSpace(models.Model):
    """An attendee's own lab space, provisioned when they redeem the production code."""

    registration = models.OneToOneField(Registration, on_delete=models.CASCADE, related_name="lab_space")
    code = models.ForeignKey(InvitationCode, on_delete=models.PROTECT, related_name="spaces")
    name = models.CharField(max_length=100, unique=True)
    provisioned_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    provider_ref = models.CharField(
        max_length=300, blank=True, help_text="What the provisioner made, e.g. a URL."
    )

    def __str__(self) -> str:
        return self.name
