"""Report subscriptions: a report, with its filters, emailed to a person weekly or monthly."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ReportSubscription(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    report = models.CharField(max_length=50, help_text="The report's slug, e.g. health-distribution.")
    filters = models.JSONField(default=dict, blank=True, help_text="The report's filters, as given.")
    filters_key = models.CharField(
        max_length=300, blank=True, help_text="The filters as a query string: one subscription per set."
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["report", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "report", "filters_key"], name="report_subscription_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} ({self.get_frequency_display().lower()}) for {self.user}"

    def get_absolute_url(self) -> str:
        return reverse("reports:subscriptions")
