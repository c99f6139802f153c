from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from csops.core.models import ReferenceRow


class Rule(ReferenceRow):
    """A rule as configuration: who it applies to (conditions) and what it does (actions).

    `csops.rules.definition.build` checks and reads it; the compiler turns the conditions into one
    Ibis expression over every account.
    """

    DEFINITION = ("schedule", "enabled", "when", "actions")

    schedule = models.CharField(
        max_length=100,
        default="30 4 * * *",
        help_text="A cron expression in the business time zone, or 'every N minutes'.",
    )
    enabled = models.BooleanField(default=True)
    when = models.JSONField(default=list, help_text="Conditions; an account must meet all of them.")
    actions = models.JSONField(default=list)

    def definition(self) -> dict:
        return {"name": self.name, **{field: getattr(self, field) for field in self.DEFINITION}}

    def get_absolute_url(self) -> str:
        return reverse("rules:rule_detail", args=[self.pk])

    def clean(self) -> None:
        from csops.health.selectors import NoActiveScorecard, active_scorecard
        from csops.rules.compiler import check
        from csops.rules.definition import RuleError

        try:
            scorecard = active_scorecard()
        except NoActiveScorecard:
            scorecard = None
        try:
            check(self.definition(), scorecard)
        except RuleError as exc:
            raise ValidationError({"when": str(exc)}) from None


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    INCREMENTAL = "incremental", "Data changed"


class RuleRun(models.Model):
    """One evaluation pass of one or more rules, over every account or over a few changed ones."""

    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    dry_run = models.BooleanField(default=False)
    as_of = models.DateField()
    scope = models.PositiveIntegerField(
        null=True, blank=True, help_text="Number of accounts evaluated; empty for every account."
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"Rule run {self.pk} ({self.get_trigger_display()}, {self.as_of})"


class RuleResult(models.Model):
    """What one rule did in a run: its audience, the actions applied (or planned), its error."""

    run = models.ForeignKey(RuleRun, on_delete=models.CASCADE, related_name="results")
    rule = models.CharField(max_length=100, db_index=True)
    started_at = models.DateTimeField()
    seconds = models.FloatField(default=0)
    audience = models.PositiveIntegerField(default=0)
    actions = models.JSONField(default=dict, help_text="action: number applied (planned in a dry run)")
    skipped = models.JSONField(default=dict, help_text="action: number left alone (already done, open…)")
    sample = models.JSONField(default=list, help_text="A few of the rows each action would write.")
    error = models.TextField(blank=True)
    alert = models.CharField(
        max_length=300, blank=True, help_text="Who was alerted of the error, or why not."
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["rule", "started_at"])]

    def __str__(self) -> str:
        return f"{self.rule} at {self.started_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("rules:rule_detail_by_name", args=[self.rule])

    @property
    def actions_text(self) -> str:
        done = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in self.actions.items() if n)
        return done or ("nothing new" if self.actions else "—")


class RuleEffect(models.Model):
    """A non-CTA action a rule applied to an account (field set, enrolment, notification).

    The unique key is what makes re-running a rule, or two runners racing, apply it only once.
    """

    key = models.CharField(max_length=255, unique=True)
    rule = models.CharField(max_length=100)
    kind = models.CharField(max_length=20)
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="rule_effects")
    run = models.ForeignKey(RuleRun, null=True, on_delete=models.SET_NULL, related_name="effects")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key


class RuleBacktest(models.Model):
    """What a rule would have done on each day of a past window, from the history."""

    rule = models.CharField(max_length=100, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    as_of = models.DateField(help_text="The last day of the window.")
    days = models.PositiveIntegerField()
    seconds = models.FloatField(default=0)
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Backtest of {self.rule} over {self.days} days to {self.as_of}"

    def get_absolute_url(self) -> str:
        return reverse("rules:backtest_detail", args=[self.pk])


class PendingEvaluation(models.Model):
    """An account whose data changed since its rules were last evaluated; drained by the worker."""

    account = models.OneToOneField(
        "customers.Account", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    since = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Account {self.account_id} pending since {self.since}"
