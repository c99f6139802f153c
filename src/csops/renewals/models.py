"""Renewals and retention: monthly ARR snapshots (the history retention is computed from)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse


class RenewalPolicy(models.Model):
    """How renewals are worked (configuration, `renewal_policies.yaml`); the one named "default"
    applies."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    update_days_soon = models.PositiveSmallIntegerField(
        default=7, help_text="Days between risk updates when the renewal is this quarter or the next."
    )
    update_days_later = models.PositiveSmallIntegerField(
        default=30, help_text="Days between risk updates for a renewal further out."
    )
    soon_quarters = models.PositiveSmallIntegerField(
        default=1, help_text="Quarters after this one that count as soon (1: this quarter and the next)."
    )
    at_risk_colors = models.JSONField(
        default=list,
        blank=True,
        help_text="An open renewal is at risk when its health or CSM sentiment is one of these colours, "
        "or it has a risk impact.",
    )

    class Meta:
        verbose_name_plural = "renewal policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        unknown = sorted(set(self.at_risk_colors or []) - {"green", "yellow", "red"})
        if unknown:
            raise ValidationError(
                {"at_risk_colors": f"Not a colour: {', '.join(unknown)} (green, yellow, red)."}
            )
        if not self.update_days_soon or not self.update_days_later:
            raise ValidationError({"update_days_soon": "Risk updates need a cadence of at least a day."})


class ArrSnapshot(models.Model):
    """An account's ARR on the first day of a month, with what it is grouped by then. Taken by a
    scheduled job or imported; one row per account and month."""

    month = models.DateField(db_index=True, help_text="The first day of the month.")
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="arr_snapshots")
    arr = models.DecimalField("ARR", max_digits=14, decimal_places=2)
    parent_id_then = models.BigIntegerField(
        null=True, blank=True, help_text="The account's top-level parent that month (itself: empty)."
    )
    segment = models.CharField(max_length=100, blank=True)
    geo = models.CharField(max_length=100, blank=True)
    csm = models.CharField(max_length=150, blank=True, help_text="The CSM's username that month.")
    renewal_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["month", "account_id"]
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="arr_snapshot_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m}: {self.arr}"


# The handoff fields the AE must fill, in the form's order, with the labels people read.
HANDOFF_REQUIRED: dict[str, str] = {
    "why_they_bought": "Why they bought",
    "primary_use_case": "Primary use case",
    "value_driver": "Value driver",
    "key_contacts": "Key contacts",
    "risks": "Risks",
    "recommended_features": "Recommended features",
}


class Handoff(models.Model):
    """The Sales→CS handoff (command plan) of a won New or Growth opportunity: what the AE tells the
    CSM before onboarding. Opened by `handoff.open_handoffs`; the AE fills it."""

    opportunity = models.OneToOneField(
        "customers.Opportunity", on_delete=models.CASCADE, related_name="handoff"
    )
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="handoffs")
    why_they_bought = models.TextField("why they bought", blank=True)
    primary_use_case = models.CharField("primary use case", max_length=200, blank=True)
    value_driver = models.CharField("value driver", max_length=200, blank=True)
    metrics = models.TextField(blank=True, help_text="How the customer will measure success.")
    key_contacts = models.ManyToManyField("customers.Contact", blank=True, related_name="handoffs")
    risks = models.TextField(blank=True)
    recommended_features = models.TextField("recommended features", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cta = models.ForeignKey(
        "cockpit.Cta", null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Handoff: {self.opportunity}"

    def get_absolute_url(self) -> str:
        return reverse("handoffs:detail", args=[self.pk])

    def missing_fields(self) -> list[str]:
        """The labels of the required fields still empty. Lists annotate `contacts_count` (or
        prefetch the contacts) so a page of handoffs takes no query per row."""
        count = getattr(self, "contacts_count", None)
        if count is None:
            count = len(self.key_contacts.all()) if self.pk else 0
        return [
            label
            for name, label in HANDOFF_REQUIRED.items()
            if not (count if name == "key_contacts" else str(getattr(self, name)).strip())
        ]
