from django.core.exceptions import ValidationError
from django.db import models

from csops.core.models import ReferenceRow


class Scorecard(ReferenceRow):
    """A health scorecard as configuration; `health.scorecard.build` checks and reads it."""

    DEFINITION = ("bands", "color_scores", "na_rules", "overrides", "adoption", "groups")

    active = models.BooleanField(default=True, help_text="The active scorecard scores every account.")
    bands = models.JSONField(default=dict, blank=True)
    color_scores = models.JSONField(default=dict, blank=True)
    na_rules = models.JSONField(default=list, blank=True)
    overrides = models.JSONField(default=list, blank=True)
    adoption = models.JSONField(default=dict, blank=True)
    groups = models.JSONField(default=list)

    def definition(self) -> dict:
        return {"name": self.name, **{field: getattr(self, field) for field in self.DEFINITION}}

    def clean(self) -> None:
        from csops.health.scorecard import ScorecardError, build

        try:
            build(self.definition())
        except ScorecardError as exc:
            raise ValidationError({"groups": str(exc)}) from None
        others = Scorecard.objects.filter(active=True).exclude(pk=self.pk)
        if self.active and others.exists():
            raise ValidationError({"active": f"{others.first()} is already the active scorecard."})


class ScoreRun(models.Model):
    """One scoring pass: when, as of which date, how long, how many accounts changed."""

    started_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateField()
    scorecard = models.CharField(max_length=100)
    accounts = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Scoring as of {self.as_of}"


class AccountHealth(models.Model):
    """An account's current score with every measure, and the snapshot before it (to explain moves).

    Written in bulk by the scorer for the accounts whose scores changed; the full history lives in
    the analytics store, where backtests and dashboards read it.
    """

    account = models.OneToOneField(
        "customers.Account", primary_key=True, on_delete=models.CASCADE, related_name="health"
    )
    scorecard = models.CharField(max_length=100)
    scored_on = models.DateField()
    score = models.FloatField(null=True)
    color = models.CharField(max_length=10, blank=True)
    band_color = models.CharField(max_length=10, blank=True)
    override = models.CharField(max_length=200, blank=True)
    adoption = models.PositiveSmallIntegerField(default=0)
    measures = models.JSONField(default=dict, help_text="key: {value, color, na, stale, contribution}")
    previous_on = models.DateField(null=True)
    previous_score = models.FloatField(null=True)
    previous_measures = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "account health"

    def __str__(self) -> str:
        return f"Health of {self.account_id}"


class ScoreHistory(models.Model):
    """Each change of an account's overall score: the trend on the Account 360 page."""

    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="score_history")
    scored_on = models.DateField()
    score = models.FloatField(null=True)
    color = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering = ["account", "scored_on"]
        constraints = [
            models.UniqueConstraint(fields=["account", "scored_on"], name="score_history_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.scored_on}: {self.score}"


class HealthUpdate(models.Model):
    """A CSM's health update: sentiment with its story, and when the next one is due."""

    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="health_updates")
    author = models.ForeignKey("core.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sentiment = models.CharField(
        max_length=10, choices=[("green", "Green"), ("yellow", "Yellow"), ("red", "Red")]
    )
    summary = models.CharField(max_length=300)
    context = models.TextField(blank=True)
    needed = models.TextField("what is needed", blank=True)
    next_date = models.DateField("next update", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.summary

    def get_absolute_url(self) -> str:
        return self.account.get_absolute_url() + "#sentiment"


class OutcomeKind(models.TextChoices):
    RENEWED = "renewed", "Renewed"
    CONTRACTED = "contracted", "Contracted"
    CHURNED = "churned", "Churned"


class Outcome(models.Model):
    """What happened to an account at a renewal: the ground truth health scores are tested against."""

    external_id = models.CharField("id", max_length=64, unique=True)
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="outcomes")
    kind = models.CharField(max_length=12, choices=OutcomeKind.choices)
    date = models.DateField(db_index=True)
    arr_before = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    arr_after = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.date}"


class Backtest(models.Model):
    """A backtest run: how well the scores as of a date separated what happened next."""

    created_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateField()
    horizon_days = models.PositiveIntegerField()
    scorecard = models.CharField(max_length=100)
    population = models.PositiveIntegerField()
    lost = models.PositiveIntegerField(help_text="Accounts that churned or contracted in the horizon.")
    auc = models.FloatField(null=True)
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Backtest as of {self.as_of} (+{self.horizon_days} days)"
