from django.db import models

from csops.core.models import ReferenceRow


class CtaType(ReferenceRow):
    class Meta(ReferenceRow.Meta):
        verbose_name = "CTA type"


class CtaReason(models.Model):
    type = models.ForeignKey(CtaType, on_delete=models.CASCADE, related_name="reasons")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["type", "position"]
        constraints = [
            models.UniqueConstraint(fields=["type", "name"], name="cta_reason_unique_per_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type}: {self.name}"


class CtaStatus(ReferenceRow):
    is_closed = models.BooleanField(default=False)
    types = models.ManyToManyField(
        CtaType,
        blank=True,
        related_name="extra_statuses",
        help_text="Only for these CTA types; empty for all types.",
    )

    class Meta(ReferenceRow.Meta):
        verbose_name = "CTA status"
        verbose_name_plural = "CTA statuses"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    COMPLETE = "complete", "Complete"


class SuccessPlan(models.Model):
    """A customer's success plan (ROI, or internal stage adoption); an active one with objectives
    turns the health scorecard's Outcomes measure green."""

    class Type(models.TextChoices):
        ROI = "roi", "ROI"
        STAGE_ADOPTION = "stage_adoption", "Internal stage adoption"

    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="success_plans")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.ROI)
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.account.get_absolute_url() + "#success-plans"


class Objective(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETE = "complete", "Complete"

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="objectives")
    name = models.CharField(max_length=200)
    category = models.CharField(
        max_length=100, blank=True, help_text="e.g. Cost savings, Velocity, Security."
    )
    stage = models.CharField(max_length=100, blank=True, help_text="The DevOps stage it concerns, e.g. CI.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    due = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["due", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.plan.get_absolute_url()
