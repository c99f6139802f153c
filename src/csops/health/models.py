from django.core.exceptions import ValidationError
from django.db import models

from csops.core.models import ReferenceRow


class Scorecard(ReferenceRow):
    """A health scorecard as configuration; `health.scorecard.build` checks and reads it."""

    active = models.BooleanField(default=True, help_text="The active scorecard scores every account.")
    bands = models.JSONField(default=dict, blank=True)
    color_scores = models.JSONField(default=dict, blank=True)
    na_rules = models.JSONField(default=list, blank=True)
    overrides = models.JSONField(default=list, blank=True)
    adoption = models.JSONField(default=dict, blank=True)
    groups = models.JSONField(default=list)

    def definition(self) -> dict:
        return {
            "name": self.name,
            "bands": self.bands,
            "color_scores": self.color_scores,
            "na_rules": self.na_rules,
            "overrides": self.overrides,
            "adoption": self.adoption,
            "groups": self.groups,
        }

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
