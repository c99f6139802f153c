from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "CS Ops admin"
    CSM = "csm", "CSM / CSE"
    ACCOUNT_OWNER = "account_owner", "Account owner"
    VIEWER = "viewer", "Viewer"


class JobFunction(models.TextChoices):
    CS_OPS = "cs_ops", "CS Operations"
    CSM = "csm", "Customer Success Manager"
    CSE = "cse", "Customer Success Engineer"
    CSA = "csa", "Customer Success Architect"
    AE = "ae", "Account Executive"
    SAE = "sae", "Strategic Account Executive"
    SA = "sa", "Solutions Architect"
    RENEWALS = "renewals", "Renewals Manager"
    LEADER = "leader", "Leader"
    POOL = "pool", "Pool"


class User(AbstractUser):
    """A person, or a pool (e.g. "TAM Scale") that can be assigned like a person but never logs in."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    function = models.CharField(max_length=20, choices=JobFunction.choices, blank=True)
    geo = models.ForeignKey(
        "customers.Geo", null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    is_pool = models.BooleanField(
        default=False, help_text="A shared assignee such as TAM Scale, worked by its members."
    )
    pool = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        limit_choices_to={"is_pool": True},
    )
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class AuditEntry(models.Model):
    """Who changed what, when. Written by actions only, never edited."""

    class Verb(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    verb = models.CharField(max_length=10, choices=Verb.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, help_text="field: [old, new]")
    source = models.CharField(max_length=20, default="web")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.get_verb_display()} {self.object_repr}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the secret is shown once at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class ConfigChange(models.Model):
    """One versioned change to the configuration: a `config apply`, or an admin's edit."""

    number = models.PositiveIntegerField(unique=True)
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="Directory or page applied from.")

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Change #{self.number}"


class ConfigVersion(models.Model):
    """The state of one configuration object after a change; the object's history is its versions."""

    change = models.ForeignKey(ConfigChange, on_delete=models.CASCADE, related_name="versions")
    kind = models.CharField(max_length=50)
    key = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    data = models.JSONField(null=True, help_text="Null when the object was deleted.")

    class Meta:
        ordering = ["kind", "key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key", "version"], name="config_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} v{self.version}"


class ReferenceRow(models.Model):
    """Configuration rows an admin may extend (geos, personas, reasons…), keyed by name."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Schedule(ReferenceRow):
    """A periodic job: a cron expression in the business time zone and the task it enqueues."""

    cron = models.CharField(max_length=100, help_text="Minute hour day month weekday, e.g. 0 4 * * *.")
    task = models.CharField(max_length=200, help_text="Dotted path of a task, e.g. csops.health.tasks.score.")
    enabled = models.BooleanField(default=True)

    def clean(self) -> None:
        from croniter import croniter
        from django.core.exceptions import ValidationError
        from django.utils.module_loading import import_string

        if not croniter.is_valid(self.cron):
            raise ValidationError({"cron": f"Not a cron expression: {self.cron!r}."})
        try:
            target = import_string(self.task)
        except ImportError:
            raise ValidationError({"task": f"No task {self.task!r}."}) from None
        if not hasattr(target, "enqueue"):
            raise ValidationError({"task": f"{self.task!r} is not a task."})


class ScheduleFiring(models.Model):
    """One firing of a schedule; unique, so two schedulers running at once fire it only once."""

    schedule = models.CharField(max_length=100)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(auto_now_add=True)
    task_result_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-due_at"]
        constraints = [models.UniqueConstraint(fields=["schedule", "due_at"], name="schedule_fires_once")]

    def __str__(self) -> str:
        return f"{self.schedule} due {self.due_at}"


class CompanyHoliday(ReferenceRow):
    """A company day off beyond the public holidays (e.g. a Family and Friends Day): not a
    business day for service levels and reminders."""

    date = models.DateField()

    class Meta(ReferenceRow.Meta):
        ordering = ["date", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.date.isoformat()})"
