from django.db import models

from csops.core.models import ReferenceRow


class Program(ReferenceRow):
    """A digital journey (email series, campaign, survey) that accounts' contacts are enrolled in."""

    active = models.BooleanField(default=True)


class Enrolment(models.Model):
    """A contact enrolled in a program, once per contact and program (the unique key)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="enrolments")
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="enrolments")
    contact = models.ForeignKey("customers.Contact", on_delete=models.CASCADE, related_name="enrolments")
    key = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=10, default="manual")
    source_ref = models.CharField(max_length=200, blank=True, help_text="The rule that enrolled it.")
    enrolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-enrolled_at"]
        indexes = [models.Index(fields=["account", "program"])]

    def __str__(self) -> str:
        return f"{self.program.name}: contact {self.contact_id}"

    def get_absolute_url(self) -> str:
        return self.account.get_absolute_url()
