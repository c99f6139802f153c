import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from csops.core.models import ReferenceRow


class EmailTemplate(ReferenceRow):
    """Configuration: a subject and body with merge fields ({{ contact.first_name }},
    {{ calendly_link }}…); the HTML part is made from the text when not given."""

    subject = models.CharField(max_length=300)
    text = models.TextField(help_text="The plain-text part, with merge fields.")
    html = models.TextField(blank=True, help_text="The HTML part; empty: made from the text.")

    def clean(self) -> None:
        from csops.programs.merge import TemplateError, check_template

        try:
            check_template(self)
        except TemplateError as exc:
            raise ValidationError({"text": str(exc)}) from None


class CseAssignment(ReferenceRow):
    """Configuration: who the CSE of a segment (and geo) is, and their Calendly link for campaigns."""

    segment = models.ForeignKey("customers.Segment", on_delete=models.PROTECT, related_name="+")
    geo = models.ForeignKey(
        "customers.Geo",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every geo without its own assignment.",
    )
    cse = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    calendly_url = models.URLField("Calendly link")

    class Meta(ReferenceRow.Meta):
        constraints = [models.UniqueConstraint(fields=["segment", "geo"], name="one_cse_per_segment_geo")]


class Repeat(models.TextChoices):
    NEVER = "never", "Once per contact"
    MONTHLY = "monthly", "Once per contact and month"
    QUARTERLY = "quarterly", "Once per contact and quarter"


class Program(ReferenceRow):
    """A digital journey: steps (send, wait, branch, CTA, survey, exit) each enrolled contact walks."""

    DEFINITION = ("audience", "repeat", "steps")

    active = models.BooleanField(default=True)
    audience = models.CharField(
        max_length=300, blank=True, help_text="Who is enrolled, in words (a rule, a segment, by hand)."
    )
    repeat = models.CharField(max_length=10, choices=Repeat.choices, default=Repeat.NEVER)
    steps = models.JSONField(default=list, blank=True)

    def clean(self) -> None:
        from csops.programs.journey import JourneyError, build_steps

        try:
            build_steps(self.steps, self.name)
        except JourneyError as exc:
            raise ValidationError({"steps": str(exc)}) from None

    def get_absolute_url(self) -> str:
        return reverse("programs:program_detail", args=[self.pk])


class EnrolmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    DONE = "done", "Completed"
    EXITED = "exited", "Exited"


class Enrolment(models.Model):
    """A contact enrolled in a program, once per contact and program (and period, for repeating
    programs): the unique key. `step` is the next step to run, at `next_at`."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="enrolments")
    account = models.ForeignKey("customers.Account", on_delete=models.CASCADE, related_name="enrolments")
    contact = models.ForeignKey("customers.Contact", on_delete=models.CASCADE, related_name="enrolments")
    key = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=10, default="manual")
    source_ref = models.CharField(max_length=200, blank=True, help_text="The rule that enrolled it.")
    enrolled_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=EnrolmentState.choices, default=EnrolmentState.ACTIVE)
    step = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-enrolled_at"]
        indexes = [
            models.Index(fields=["account", "program"]),
            models.Index(fields=["state", "next_at"]),
            models.Index(fields=["program", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.program.name}: contact {self.contact_id}"

    def get_absolute_url(self) -> str:
        return self.account.get_absolute_url()


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown (worker stopped mid-send)"


class OutboxMessage(models.Model):
    """Every email csops sends: queued here, delivered by the outbox worker, at most once.

    The key makes queueing idempotent (a step, a survey invitation, a notification is queued once);
    `attempt_at` is written before each delivery attempt, so a worker killed mid-send leaves the
    message marked, and it is never sent a second time.
    """

    key = models.CharField(max_length=255, unique=True)
    public_id = models.CharField(
        max_length=24, unique=True, default=new_public_id, help_text="Names the message in its links."
    )
    kind = models.CharField(max_length=20, help_text="program, survey, assist, notification, alert")
    to = models.EmailField()
    cc = models.JSONField(default=list, blank=True)
    reply_to = models.EmailField(blank=True)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True)
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The program step that sent it.")
    cta = models.ForeignKey("cockpit.Cta", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the current attempt began.")
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["enrolment", "step"]),
            models.Index(fields=["account", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to}"

    def get_absolute_url(self) -> str:
        return reverse("programs:message_detail", args=[self.pk])


class TrackingEvent(models.Model):
    """An open (the HTML part's image), a click on a tracked link, or an unsubscribe."""

    class Kind(models.TextChoices):
        OPEN = "open", "Opened"
        CLICK = "click", "Clicked"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribed"

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    link = models.CharField(max_length=50, blank=True, help_text="The link's name: calendly, survey…")
    url = models.URLField(max_length=1000, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["message", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.link or ''} on {self.message_id}"


class SurveyKind(models.TextChoices):
    NPS = "nps", "NPS (0-10)"
    CSAT = "csat", "CSAT (1-5)"


class Survey(ReferenceRow):
    """Configuration: an NPS or CSAT question, how long its links stay valid, what a respondent sees."""

    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    question = models.CharField(max_length=300)
    comment_prompt = models.CharField(max_length=300, blank=True, default="Anything you would like to add?")
    thank_you = models.CharField(max_length=300, default="Thank you for your answer.")
    expires_in_days = models.PositiveSmallIntegerField(default=30)


class SurveyInvitation(models.Model):
    """A link to answer a survey once. Only the token's SHA-256 is stored; the token is in the email."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    account = models.ForeignKey(
        "customers.Account", on_delete=models.CASCADE, related_name="survey_invitations"
    )
    contact = models.ForeignKey(
        "customers.Contact", on_delete=models.CASCADE, related_name="survey_invitations"
    )
    digest = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=255, unique=True, help_text="What invited them, so it happens once.")
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        OutboxMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["survey", "created_at"])]

    def __str__(self) -> str:
        return f"{self.survey} for contact {self.contact_id}"


class SurveyResponse(models.Model):
    """An answer, on the account and the contact. NPS: promoter 9-10, passive 7-8, detractor 0-6;
    CSAT: satisfied 4-5, neutral 3, dissatisfied 1-2."""

    invitation = models.OneToOneField(SurveyInvitation, on_delete=models.CASCADE, related_name="response")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    account = models.ForeignKey(
        "customers.Account", on_delete=models.CASCADE, related_name="survey_responses"
    )
    contact = models.ForeignKey(
        "customers.Contact", on_delete=models.CASCADE, related_name="survey_responses"
    )
    score = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=12)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["survey", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.survey}: {self.score} ({self.category})"

    def get_absolute_url(self) -> str:
        return self.account.get_absolute_url() + "#surveys"
