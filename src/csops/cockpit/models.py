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
        CtaType, blank=True, related_name="extra_statuses",
        help_text="Only for these CTA types; empty for all types.",
    )

    class Meta(ReferenceRow.Meta):
        verbose_name = "CTA status"
        verbose_name_plural = "CTA statuses"
