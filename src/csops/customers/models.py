import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.text import slugify

from csops.core.models import ReferenceRow


class CsmModel(models.TextChoices):
    NAMED = "named", "Named CSM"
    POOLED = "pooled", "Pooled (TAM Scale)"
    DIGITAL = "digital", "Digital (tech touch)"
    SEPARATE = "separate", "Handled separately"


class Segment(ReferenceRow):
    arr_min = models.DecimalField("ARR from", max_digits=14, decimal_places=2, default=0)
    arr_max = models.DecimalField(
        "ARR up to", max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="Exclusive upper bound; empty for no ceiling.",
    )
    csm_model = models.CharField("CSM model", max_length=20, choices=CsmModel.choices)

    def clean(self) -> None:
        if self.arr_max is not None and self.arr_max <= self.arr_min:
            raise ValidationError({"arr_max": "Must be greater than the lower bound."})


class Geo(ReferenceRow):
    pass


class Persona(ReferenceRow):
    pass


class RiskImpact(ReferenceRow):
    pass


class RiskReason(ReferenceRow):
    pass


class CustomFieldDefinition(ReferenceRow):
    """An account attribute an admin adds without code; values live in Account.custom_fields."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        INTEGER = "integer", "Integer"
        DECIMAL = "decimal", "Decimal"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes / no"
        CHOICE = "choice", "Choice"
        URL = "url", "URL"

    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)

    def clean(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name or ""):
            raise ValidationError({"name": "Use lower-case letters, digits and underscores."})
        if self.type == self.Type.CHOICE and not self.choices:
            raise ValidationError({"choices": "A choice field needs at least one choice."})


class Tier(models.TextChoices):
    FREE = "free", "Free"
    PREMIUM = "premium", "Premium"
    ULTIMATE = "ultimate", "Ultimate"


class Deployment(models.TextChoices):
    SAAS = "saas", "SaaS"
    SELF_MANAGED = "self_managed", "Self-managed"


class LifecycleStage(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ADOPTION = "adoption", "Adoption"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"
    CHURNED = "churned", "Churned"


class SalesSegment(models.TextChoices):
    LARGE = "large", "Large"
    MID_MARKET = "mid_market", "Mid-Market"
    SMB = "smb", "SMB"


class Priority(models.TextChoices):
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"


class Color(models.TextChoices):
    GREEN = "green", "Green"
    YELLOW = "yellow", "Yellow"
    RED = "red", "Red"


SLACK_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}")


def internal_slack_channel(account_name: str) -> str:
    return f"#a_{slugify(account_name)}-internal"


def _team_member(related_name: str, verbose: str) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name=related_name, verbose_name=verbose,
    )


class Account(models.Model):
    external_id = models.CharField("CRM id", max_length=64, unique=True)
    name = models.CharField(max_length=255, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="accounts")
    geo = models.ForeignKey(Geo, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    sales_segment = models.CharField(max_length=20, choices=SalesSegment.choices, blank=True)
    arr = models.DecimalField("ARR", max_digits=14, decimal_places=2, default=0)
    lam = models.DecimalField(
        "LAM", max_digits=16, decimal_places=2, null=True, blank=True,
        help_text="Landed addressable market.",
    )
    tier = models.CharField(max_length=20, choices=Tier.choices, blank=True)
    deployment = models.CharField(max_length=20, choices=Deployment.choices, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True)
    csm_priority = models.CharField("CSM priority", max_length=2, choices=Priority.choices, blank=True)
    contract_start = models.DateField(null=True, blank=True)
    renewal_date = models.DateField(null=True, blank=True, db_index=True)
    licensed_users = models.PositiveIntegerField(null=True, blank=True)
    ae = _team_member("accounts_as_ae", "AE")
    sa = _team_member("accounts_as_sa", "SA")
    csm = _team_member("accounts_as_csm", "CSM")
    cse = _team_member("accounts_as_cse", "CSE")
    renewals_manager = _team_member("accounts_as_renewals_manager", "renewals manager")
    csm_sentiment = models.CharField("CSM sentiment", max_length=10, choices=Color.choices, blank=True)
    csm_sentiment_date = models.DateField("CSM sentiment date", null=True, blank=True)
    cs_project_url = models.URLField("CS project URL", blank=True)
    slack_channel = models.CharField(max_length=81, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    # Written by the health engine; kept here so the account list can filter and sort on it.
    health_score = models.FloatField(null=True, blank=True)
    health_color = models.CharField(max_length=10, choices=Color.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name", "id"]),
            models.Index(fields=["arr", "id"]),
            models.Index(fields=["csm_priority"]),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customers:account_detail", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        channel = self.slack_channel
        if channel:
            if not SLACK_CHANNEL.fullmatch(channel):
                errors["slack_channel"] = "A channel starts with # and uses a-z, 0-9, _ and -."
            elif channel.endswith("-internal") and channel != internal_slack_channel(self.name):
                errors["slack_channel"] = (
                    f"An internal channel must be named {internal_slack_channel(self.name)}."
                )
        if self.parent_id and self.parent_id == self.pk:
            errors["parent"] = "An account cannot be its own parent."
        if self.csm_sentiment and not self.csm_sentiment_date:
            errors["csm_sentiment_date"] = "Give the date the sentiment was set."
        if (self.contract_start and self.renewal_date
                and self.renewal_date < self.contract_start):
            errors["renewal_date"] = "The renewal date is before the contract start."
        if errors:
            raise ValidationError(errors)


class Contact(models.Model):
    external_id = models.CharField("CRM id", max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    title = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    persona = models.ForeignKey(
        Persona, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts"
    )
    email_opt_out = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        # Default list orders end in the primary key, so pages are stable; these serve them.
        indexes = [models.Index(fields=["last_name", "id"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_absolute_url(self) -> str:
        return reverse("customers:account_detail", args=[self.account_id]) + "#contacts"


class OpportunityType(models.TextChoices):
    NEW = "new", "New business"
    RENEWAL = "renewal", "Renewal"
    ADD_ON = "add_on", "Add-on"


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best Case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


class Opportunity(models.Model):
    external_id = models.CharField("CRM id", max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=10, choices=OpportunityType.choices)
    arr_basis = models.DecimalField("ARR basis", max_digits=14, decimal_places=2, default=0)
    net_arr = models.DecimalField("net ARR", max_digits=14, decimal_places=2, default=0)
    close_date = models.DateField()
    stage = models.CharField(max_length=50)
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices, blank=True)
    risk_impact = models.ForeignKey(
        RiskImpact, null=True, blank=True, on_delete=models.PROTECT, related_name="opportunities"
    )
    risk_reason = models.ForeignKey(
        RiskReason, null=True, blank=True, on_delete=models.PROTECT, related_name="opportunities"
    )
    # A renewal's pipeline fields (the renewals app's pages edit them).
    renewal_due = models.DateField(
        "renewal due", null=True, blank=True,
        help_text="The end of the contract this renewal is for: closing won by then is on time.",
    )
    renewal_dri = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="renewals_owned", verbose_name="renewal DRI",
        help_text="Who drives this renewal; empty: the account's renewals manager.",
    )
    next_step = models.CharField("next step", max_length=255, blank=True)
    next_step_date = models.DateField("next step date", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["close_date"]
        verbose_name_plural = "opportunities"
        indexes = [models.Index(fields=["close_date", "id"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        if self.type == OpportunityType.RENEWAL:
            return reverse("renewals:renewal", args=[self.pk])
        return reverse("customers:account_detail", args=[self.account_id]) + "#opportunities"

    @property
    def dri(self):
        """Who drives the renewal: the named DRI, else the account's renewals manager."""
        return self.renewal_dri or self.account.renewals_manager

    def clean(self) -> None:
        if self.next_step_date and not self.next_step.strip():
            raise ValidationError({"next_step": "Say what the next step is, or clear its date."})


class Severity(models.TextChoices):
    S1 = "S1", "S1 (critical)"
    S2 = "S2", "S2 (high)"
    S3 = "S3", "S3 (medium)"
    S4 = "S4", "S4 (low)"


class SupportTicket(models.Model):
    external_id = models.CharField("ticket id", max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tickets")
    subject = models.CharField(max_length=255)
    severity = models.CharField(max_length=2, choices=Severity.choices)
    is_emergency = models.BooleanField(default=False)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["opened_at", "id"])]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("customers:account_detail", args=[self.account_id]) + "#tickets"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def clean(self) -> None:
        if self.closed_at and self.opened_at and self.closed_at < self.opened_at:
            raise ValidationError({"closed_at": "A ticket cannot close before it opens."})


class ImportMapping(ReferenceRow):
    """Extra column names for one import kind (the name), e.g. {"AnnualRevenue": "arr"}."""

    columns = models.JSONField(default=dict, blank=True)

    def clean(self) -> None:
        from csops.customers.imports import SPECS

        if self.name not in SPECS:
            raise ValidationError({"name": f"Unknown import kind; use one of {', '.join(SPECS)}."})
        fields = {c.field for c in SPECS[self.name]}
        if not isinstance(self.columns, dict):
            raise ValidationError({"columns": "Give a mapping of column name to field."})
        for source, target in self.columns.items():
            if target not in fields:
                raise ValidationError({"columns": f"{source!r} maps to unknown field {target!r}."})


class ImportRun(models.Model):
    """One run of an import, kept for the import page and the audit trail."""

    kind = models.CharField(max_length=20)
    file_name = models.CharField(max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    partial = models.BooleanField(default=False)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Import of {self.kind} from {self.file_name}"
