"""Governance: configuration changes proposed, peer reviewed and applied as change requests (the
applied ones are the changelog), and the CS Ops core responsibilities tracker."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from csops.core.models import ReferenceRow

# Rules and data objects (scorecards, custom fields, import definitions) are always peer reviewed,
# and so is the review policy itself; DOMAIN.md makes this non-negotiable.
MANDATORY_REVIEW = frozenset({"rules", "scorecards", "custom_fields", "import_mappings", "review_policies"})


class ReviewLevel(models.TextChoices):
    REQUIRED = "required", "Required: another admin approves before it takes effect"
    OPTIONAL = "optional", "Optional: the author may apply it at once"


class ReviewPolicy(ReferenceRow):
    """How changes to one configuration kind are reviewed (kinds without a policy: optional)."""

    review = models.CharField(max_length=10, choices=ReviewLevel.choices, default=ReviewLevel.OPTIONAL)

    class Meta(ReferenceRow.Meta):
        verbose_name_plural = "review policies"

    def clean(self) -> None:
        from csops.core.configuration import REGISTRY

        if self.name not in REGISTRY:
            raise ValidationError({"name": f"No configuration kind {self.name!r}."})
        if self.name in MANDATORY_REVIEW and self.review != ReviewLevel.REQUIRED:
            raise ValidationError({"review": f"Changes to {self.name} are always peer reviewed."})


class Status(models.TextChoices):
    OPEN = "open", "Awaiting review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = (Status.OPEN, Status.CHANGES_REQUESTED)


class ChangeRequest(models.Model):
    """A proposed change to configuration objects: what, why, by whom; applied as one version."""

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200)
    why = models.TextField(help_text="Why this change: kept in the changelog.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ops_request = models.ForeignKey(
        "requests.OpsRequest", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="change_requests",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    review_required = models.BooleanField(default=False)
    source = models.CharField(max_length=300, blank=True, help_text="Page, directory or version.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True, db_index=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    config_change = models.OneToOneField(
        "core.ConfigChange", null=True, blank=True, on_delete=models.SET_NULL, related_name="change_request"
    )
    impact = models.JSONField(null=True, blank=True, help_text="Rules: dry-run counts, current and proposed.")
    impact_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"!{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("governance:change", args=[self.number])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def approvers(self) -> list:
        """Who approved it (from prefetched reviews where the list pages prefetch them)."""
        return [r.reviewer for r in self.reviews.all() if r.verdict == Verdict.APPROVE]

    def approvers_text(self) -> str:
        return ", ".join(str(u) for u in self.approvers())

    def objects_text(self) -> str:
        return "; ".join(f"{o.get_verb_display()} {o.kind} {o.key}" for o in self.items.all())


class Verb(models.TextChoices):
    CREATE = "create", "Add"
    UPDATE = "update", "Change"
    DELETE = "delete", "Remove"


class ProposedObject(models.Model):
    """One configuration object in a change request: its state before and after."""

    change_request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=50)
    key = models.CharField(max_length=200)
    verb = models.CharField(max_length=10, choices=Verb.choices)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["change_request", "kind", "key"], name="proposed_object_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_verb_display()} {self.kind} {self.key}"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approved"
    REQUEST_CHANGES = "request_changes", "Requested changes"
    REJECT = "reject", "Rejected"
    COMMENT = "comment", "Commented"
    REVISE = "revise", "Revised"
    WITHDRAW = "withdraw", "Withdrew"


class Review(models.Model):
    """A reviewer's verdict or a comment on a change request; the request's conversation."""

    change_request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    body = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.get_verdict_display().lower()} !{self.change_request.number}"


class Rag(models.TextChoices):
    RED = "red", "Red"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"


class CoreProcess(models.Model):
    """A process CS Ops is responsible for (seed 003), with its owner and red/yellow/green status."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Rag.choices, default=Rag.GREEN)
    reason = models.TextField(blank=True, help_text="Why it has this status.")
    plan = models.TextField(blank=True, help_text="What is being done to make it green.")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "core processes"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("responsibilities:detail", args=[self.pk])


class ProcessStatusChange(models.Model):
    """One status update of a core process: the history leadership reads."""

    process = models.ForeignKey(CoreProcess, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=10, choices=Rag.choices, blank=True)
    status = models.CharField(max_length=10, choices=Rag.choices)
    reason = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.process}: {self.status}"
