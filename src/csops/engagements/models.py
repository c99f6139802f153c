"""CSE engagement requests, their follow-ups and customers' further questions, and escalations."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from csops.cockpit.models import Priority

NAME_SUFFIX = " - Ad-Hoc CSE Engagement Request"


class EngagementPolicy(models.Model):
    """The rules of the CSE engagement process (configuration, `engagement_policies.yaml`); the
    one named "default" applies."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    min_arr = models.DecimalField("minimum ARR", max_digits=14, decimal_places=2, default=30000)
    max_arr = models.DecimalField(
        "ARR needing an approver",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Above this ARR a request needs the regional sales leader's approval; empty: never.",
    )
    pool = models.CharField(
        max_length=150, default="tam-scale", help_text="The CSM pool eligible accounts have."
    )
    new_topic_after_days = models.PositiveSmallIntegerField(default=28)
    max_follow_ups = models.PositiveSmallIntegerField(default=3)
    follow_up_business_days = models.PositiveSmallIntegerField(default=3)
    answer_business_days = models.PositiveSmallIntegerField(default=1)
    cta_type = models.CharField(max_length=100, default="Digital Journey")
    cta_reason = models.CharField(max_length=200, default="Other Digital Journey Reason")
    playbook = models.CharField(max_length=200, default="One-Off CSE Outreach")
    outreach_template = models.CharField(max_length=200, default="CSE engagement outreach")
    follow_up_template = models.CharField(max_length=200, default="CSE engagement follow-up")
    survey = models.CharField(max_length=200, default="CSE engagement CSAT")

    class Meta:
        verbose_name_plural = "engagement policies"

    def __str__(self) -> str:
        return self.name


class Intervention(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    LICENSE_UTILIZATION = "license_utilization", "License utilization"
    COMPETITIVE_RISK = "competitive_risk", "Competitive risk"
    ADOPTION = "adoption", "Feature adoption"
    ENABLEMENT = "enablement", "Enablement / training"
    UPGRADE = "upgrade", "Upgrade or migration"


class UseCase(models.TextChoices):
    SCM = "scm", "Source code management"
    CI = "ci", "CI"
    CD = "cd", "CD"
    DEVSECOPS = "devsecops", "DevSecOps"
    AGILE = "agile", "Agile planning"
    OTHER = "other", "Other"


class RiskType(models.TextChoices):
    NONE = "none", "No known risk"
    ADOPTION = "adoption", "Low adoption"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"
    COMPETITIVE = "competitive", "Competitive"


class Environment(models.TextChoices):
    SAAS = "saas", "SaaS"
    SELF_MANAGED = "self_managed", "Self-managed"
    DEDICATED = "dedicated", "Dedicated"


class RequestStatus(models.TextChoices):
    FILED = "filed", "Filed"  # waiting for the batch to raise its CTA
    OPEN = "open", "Open"  # a CTA for the CSE
    CALLED = "called", "Call held"
    FOLLOWED_UP = "followed_up", "Followed up"
    CLOSED = "closed", "Closed"


class EngagementRequest(models.Model):
    account = models.ForeignKey(
        "customers.Account", on_delete=models.CASCADE, related_name="engagement_requests"
    )
    opportunity = models.ForeignKey(
        "customers.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="engagement_requests",
    )
    filed_by = models.ForeignKey("core.User", on_delete=models.PROTECT, related_name="engagement_requests")
    contact = models.ForeignKey(
        "customers.Contact", on_delete=models.PROTECT, related_name="engagement_requests"
    )
    topic = models.CharField(max_length=200)
    interventions = models.JSONField(default=list)
    primary_use_case = models.CharField(max_length=20, choices=UseCase.choices)
    risk_type = models.CharField(max_length=20, choices=RiskType.choices)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    challenges = models.TextField("challenges / pain points", blank=True)
    opt_out_outreach = models.BooleanField(
        "no automatic outreach",
        default=False,
        help_text="The CSE does not email the contact; the account owner arranges the call.",
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    approved_by = models.ForeignKey(
        "core.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The regional sales leader who approved a request above the ARR range.",
    )
    approval_note = models.CharField(max_length=300, blank=True)
    continues = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="continued_by",
        help_text="The earlier request of this customer this one follows (a new topic or after 4 weeks).",
    )
    status = models.CharField(max_length=12, choices=RequestStatus.choices, default=RequestStatus.FILED)
    cse = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cta = models.OneToOneField(
        "cockpit.Cta", null=True, blank=True, on_delete=models.SET_NULL, related_name="engagement_request"
    )
    filed_at = models.DateTimeField(auto_now_add=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    called_on = models.DateField(null=True, blank=True, help_text="The first CSE Engagement call.")
    follow_up_due = models.DateField(null=True, blank=True)
    last_contact_on = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["status", "id"]), models.Index(fields=["account", "filed_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.account} - {self.topic}"

    def get_absolute_url(self) -> str:
        return reverse("engagements:request", args=[self.pk])


class FollowUpKind(models.TextChoices):
    EMAIL = "email", "Follow-up email after the call"
    ANSWER = "answer", "Answer to a further question"


class FollowUp(models.Model):
    """What the CSE owes the customer: the follow-up email after the call (2-3 business days) or an
    answer to a further question (1 business day). At most the policy's number per request."""

    request = models.ForeignKey(EngagementRequest, on_delete=models.CASCADE, related_name="follow_ups")
    kind = models.CharField(max_length=10, choices=FollowUpKind.choices)
    question = models.TextField(blank=True)
    opened_on = models.DateField()
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["done_at", "due_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_on}"

    @property
    def on_time(self) -> bool | None:
        return None if self.done_on is None else self.done_on <= self.due_on


class EscalationKind(models.TextChoices):
    SUPPORT = "support", "Support escalation"
    ACCOUNT = "account", "Account escalation"


class AccountIssue(models.TextChoices):
    BLOCKING = "blocking", "Blocking issue"
    CHURN = "churn", "Churn risk"
    CONTRACTION = "contraction", "Contraction risk"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


# Business days between updates: Critical daily, High several times a week, Medium weekly
# (to biweekly), Low at the standard support cadence. The last three figures are assumed.
UPDATE_EVERY = {Severity.CRITICAL: 1, Severity.HIGH: 2, Severity.MEDIUM: 5, Severity.LOW: 10}


class EscalationStatus(models.TextChoices):
    OPEN = "open", "Open"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class Escalation(models.Model):
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="escalations")
    kind = models.CharField(max_length=10, choices=EscalationKind.choices)
    ticket = models.ForeignKey(
        "customers.SupportTicket", null=True, blank=True, on_delete=models.PROTECT, related_name="escalations"
    )
    issue = models.CharField(max_length=12, choices=AccountIssue.choices, blank=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=EscalationStatus.choices, default=EscalationStatus.OPEN)
    owner = models.ForeignKey("core.User", on_delete=models.PROTECT, related_name="escalations")
    criteria = models.JSONField(default=dict, help_text="Each qualification criterion as it stood at filing.")
    qualified = models.BooleanField(default=False)
    overridden_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_reason = models.CharField(max_length=300, blank=True)
    next_update_due = models.DateField(null=True, blank=True)
    reminded_on = models.DateField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["status", "next_update_due"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("escalations:detail", args=[self.pk])


class EscalationUpdate(models.Model):
    """An update on an escalation, with the status and severity it left."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="updates")
    author = models.ForeignKey("core.User", null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    status = models.CharField(max_length=12, choices=EscalationStatus.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Update on {self.escalation_id} at {self.created_at:%Y-%m-%d %H:%M}"
