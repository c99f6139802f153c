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


OWNER_ROLES = ("cta_owner", "csm", "cse", "ae", "sa", "renewals_manager")


class Playbook(ReferenceRow):
    """Configuration: the ordered tasks a CTA gets, each due some days after the CTA is created."""

    tasks = models.JSONField(default=list, help_text='[{"name": ..., "due_in_days": 7, "owner": "csm"}]')

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not isinstance(self.tasks, list) or not self.tasks:
            raise ValidationError({"tasks": "A playbook needs a list of tasks."})
        for index, task in enumerate(self.tasks, start=1):
            if not isinstance(task, dict) or not str(task.get("name") or "").strip():
                raise ValidationError({"tasks": f"Task {index} needs a name."})
            unknown = sorted(set(task) - {"name", "due_in_days", "owner"})
            if unknown:
                raise ValidationError({"tasks": f"Task {index}: unknown field {unknown[0]!r}."})
            days = task.get("due_in_days", 0)
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise ValidationError({"tasks": f"Task {index}: due_in_days must be a whole number >= 0."})
            if task.get("owner", "cta_owner") not in OWNER_ROLES:
                raise ValidationError(
                    {"tasks": f"Task {index}: owner must be one of {', '.join(OWNER_ROLES)}."}
                )


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Source(models.TextChoices):
    RULE = "rule", "Rule"
    MANUAL = "manual", "Manual"
    REQUEST = "request", "Request"
    PROGRAM = "program", "Program"


# Priorities sort by urgency, not alphabetically; an index on this expression serves the sort.
PRIORITY_RANK = models.Case(
    *[models.When(priority=value, then=models.Value(rank)) for rank, value in enumerate(Priority.values)],
    output_field=models.IntegerField(),
)


class Cta(models.Model):
    """A call to action on an account, worked by its owner through the playbook's tasks."""

    # account, type and owner get no index of their own: the composite indexes below lead with
    # them, and every index slows the rules engine's bulk inserts.
    account = models.ForeignKey(
        "customers.Account", on_delete=models.CASCADE, related_name="ctas", db_index=False
    )
    name = models.CharField(max_length=255)
    type = models.ForeignKey(CtaType, on_delete=models.PROTECT, related_name="ctas", db_index=False)
    reason = models.ForeignKey(CtaReason, on_delete=models.PROTECT, related_name="ctas")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.ForeignKey(CtaStatus, on_delete=models.PROTECT, related_name="ctas")
    owner = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="ctas", db_index=False
    )
    due_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    source_ref = models.CharField(max_length=200, blank=True, help_text="The rule or request that raised it.")
    dedupe_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        help_text="Makes raising the same CTA twice impossible.",
    )
    playbook = models.ForeignKey(
        Playbook, null=True, blank=True, on_delete=models.SET_NULL, related_name="ctas"
    )
    rule_run = models.ForeignKey(
        "rules.RuleRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="ctas",
        help_text="The rule run that raised it.",
    )
    snoozed_until = models.DateField(null=True, blank=True)
    snooze_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]
        verbose_name = "CTA"
        indexes = [
            # My CTAs and the list filtered by owner (or a team's owners), in due order.
            models.Index(fields=["owner", "closed_at", "due_date"]),
            models.Index(fields=["account", "closed_at"]),
            # The list's default for admins and leaders: every open CTA in due order. Partial, so
            # millions of closed CTAs cost it nothing.
            models.Index(
                fields=["due_date", "id"], condition=models.Q(closed_at__isnull=True), name="cta_open_due"
            ),
            # Open CTAs of one type or priority in due order (the common filters).
            models.Index(fields=["type", "closed_at", "due_date"], name="cta_type_due"),
            models.Index(fields=["priority", "closed_at", "due_date"], name="cta_priority_due"),
            # Open CTAs by priority, most urgent first (the list sorts by rank, then id ascending:
            # read backwards, this index gives exactly that order).
            models.Index(
                PRIORITY_RANK, models.F("id").desc(), condition=models.Q(closed_at__isnull=True),
                name="cta_open_priority",
            ),
            # Newest and recently closed first (read backwards: date descending, then id ascending).
            models.Index(fields=["created_at", "-id"], name="cta_created"),
            models.Index(fields=["closed_at", "-id"], name="cta_closed"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("cockpit:cta_detail", args=[self.pk])

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.reason_id and self.type_id and self.reason.type_id != self.type_id:
            raise ValidationError({"reason": f"{self.reason.name!r} is not a reason of {self.type.name!r}."})
        if self.status_id and self.type_id:
            allowed = self.status.types.all()
            if allowed and self.type not in allowed:
                raise ValidationError(
                    {"status": f"{self.status.name!r} does not apply to {self.type.name!r}."}
                )


class Task(models.Model):
    cta = models.ForeignKey(Cta, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=255)
    owner = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    due_date = models.DateField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cta", "position"]
        # The tasks API lists a person's open tasks.
        indexes = [models.Index(fields=["owner", "done_at"], name="task_owner_open")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.cta.get_absolute_url()
