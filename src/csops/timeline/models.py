from django.conf import settings
from django.db import models

from csops.core.models import ReferenceRow


class ActivityType(ReferenceRow):
    """Customer Call, Cadence Call, Email…; calls and meetings count for "last activity"."""

    counts_as_meeting = models.BooleanField(
        default=False, help_text="Calls and meetings: they set the account's last activity date."
    )


class Sentiment(models.TextChoices):
    GREEN = "green", "Green"
    YELLOW = "yellow", "Yellow"
    RED = "red", "Red"


class Activity(models.Model):
    """Something that happened with a customer, on the account's timeline."""

    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="activities")
    type = models.ForeignKey(ActivityType, on_delete=models.PROTECT, related_name="activities")
    subject = models.CharField(max_length=255)
    date = models.DateField()
    notes = models.TextField(blank=True)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    internal_attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="activities"
    )
    external_attendees = models.ManyToManyField("customers.Contact", blank=True, related_name="activities")
    cta = models.ForeignKey(
        "cockpit.Cta", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities",
        verbose_name="CTA", help_text="The call to action this activity worked on.",
    )
    external_id = models.CharField(
        max_length=64, null=True, blank=True, unique=True,
        help_text="The CRM's id (e.g. a Salesforce Task or Event), for re-imports.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["account", "date"]),
            models.Index(fields=["date"], name="activity_date"),  # the API's list, newest first
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return self.account.get_absolute_url() + "#timeline"
