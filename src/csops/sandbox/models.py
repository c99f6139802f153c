"""The cloud sandbox cleanup policy (seed 002): the test account's instances are tagged when first
seen, expire after a fortnight unless their owner extends the date, are stopped on expiry and, a
week later, snapshotted and terminated. Every run and every action is recorded."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

DATE_FORMATS = [("iso", "2026-12-19"), ("custodian", "Cloud Custodian mark-for-op: message: op@2026/12/19")]


class SandboxPolicy(models.Model):
    """How the sandbox account is kept clean (configuration, `sandbox_policies.yaml`); the policy
    named "default" is the one the schedule runs."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True, help_text="The schedule runs only enabled policies.")
    regions = models.JSONField(default=list, help_text='AWS regions to clean, e.g. ["us-east-1"].')
    resource_kinds = models.JSONField(
        default=list, help_text='What is cleaned: ["ec2_instance"] (its EBS volumes follow the instance).'
    )
    expiry_days = models.PositiveSmallIntegerField(default=14, help_text="Expiration = discovery + this.")
    grace_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days an expired instance stays stopped before it is snapshotted and terminated."
    )
    notify_days = models.PositiveSmallIntegerField(
        default=3, help_text="The owner is emailed this many days before the expiration."
    )
    max_terminations = models.PositiveIntegerField(
        default=25, help_text="A run that would terminate more instances than this stops before acting."
    )
    name_tag = models.CharField(max_length=128, default="Name")
    discovered_tag = models.CharField(max_length=128, default="Discovered")
    expiration_tag = models.CharField(max_length=128, default="Expiration")
    permanent_reason_tag = models.CharField(
        max_length=128,
        default="PermanentReason",
        help_text="Why an instance with termination protection is permanent.",
    )
    owner_tag = models.CharField(max_length=128, default="Owner", help_text="The owner's email address.")
    stopped_tag = models.CharField(max_length=128, default="StoppedOn", help_text="When expiry stopped it.")
    stopped_expiry_tag = models.CharField(
        max_length=128, default="ExpirationAtStop", help_text="The expiration it was stopped for."
    )
    unnamed_tag = models.CharField(
        max_length=128, default="Unnamed", help_text="Set on instances with no Name."
    )
    date_format = models.CharField(
        max_length=10,
        choices=DATE_FORMATS,
        default="iso",
        help_text="How dates are written; both are read.",
    )
    exclude_ids = models.JSONField(default=list, blank=True, help_text="Instance ids never touched.")
    exclude_tags = models.JSONField(
        default=dict,
        blank=True,
        help_text='Tags that exclude an instance: {"Team": "infra"}; "*" for any value.',
    )
    prices = models.JSONField(
        default=dict, blank=True, help_text='On-demand USD per hour by instance type: {"t3.micro": 0.0104}.'
    )

    class Meta:
        verbose_name_plural = "sandbox policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if not self.regions or not all(isinstance(r, str) and r for r in self.regions):
            errors["regions"] = "Give at least one region, e.g. us-east-1."
        unknown = sorted(set(self.resource_kinds or []) - {"ec2_instance"})
        if unknown or not self.resource_kinds:
            errors["resource_kinds"] = (
                f"Only ec2_instance is supported{f', not {unknown}' if unknown else ''}."
            )
        if not self.expiry_days:
            errors["expiry_days"] = "An instance needs at least a day before it expires."
        bad_prices = [k for k, v in (self.prices or {}).items() if not isinstance(v, int | float) or v < 0]
        if bad_prices:
            errors["prices"] = f"Not a price per hour: {', '.join(bad_prices)}."
        if not isinstance(self.exclude_tags, dict):
            errors["exclude_tags"] = "A mapping of tag name to value (or *)."
        if errors:
            raise ValidationError(errors)


class RunStatus(models.TextChoices):
    PLANNED = "planned", "Planned (dry run)"
    DONE = "done", "Done"
    PARTLY = "partly", "Done, some actions failed"
    REFUSED = "refused", "Refused (termination cap)"
    FAILED = "failed", "Failed"


class SandboxRun(models.Model):
    policy = models.CharField(max_length=100)
    today = models.DateField(help_text="The date the policy was evaluated for.")
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    message = models.TextField(blank=True)
    instances = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text="Planned actions by kind.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Sandbox run {self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("sandbox:run", args=[self.pk])


class SandboxAction(models.Model):
    """One instance's decision in a run: what was (or, in a dry run, would be) done, and why."""

    run = models.ForeignKey(SandboxRun, on_delete=models.CASCADE, related_name="actions")
    instance_id = models.CharField(max_length=32)
    region = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=20)
    reason = models.CharField(max_length=300)
    tags_before = models.JSONField(default=dict)
    tags_after = models.JSONField(default=dict)
    outcome = models.CharField(max_length=10, default="planned", help_text="planned, done, failed, skipped")
    error = models.TextField(blank=True)
    snapshots = models.JSONField(default=list, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["instance_id", "at"])]

    def __str__(self) -> str:
        return f"{self.instance_id}: {self.action}"


class SandboxInstance(models.Model):
    """The account's instances as the last run saw them (the report reads this)."""

    instance_id = models.CharField(max_length=32, unique=True)
    region = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    instance_type = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20)
    category = models.CharField(max_length=20, db_index=True)
    expiration = models.DateField(null=True, blank=True)
    owner = models.CharField(max_length=255, blank=True)
    protected = models.BooleanField(null=True, help_text="Termination protection, when last checked.")
    problems = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=dict)
    launched_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["category", "expiration", "instance_id"]

    def __str__(self) -> str:
        return self.name or self.instance_id
