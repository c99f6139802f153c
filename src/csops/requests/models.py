"""The CS Ops request tracker (seeds 000, 001): workstreams and their leads, requests moving
through the scoped workflow labels, epics, milestones, the transition history, and the triage
policies that nudge, flag and summarise."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

INTERRUPT_LABEL = "CSOps - Interrupt"


class Workstream(models.Model):
    """A CS Ops workstream and its lead, who triages its requests (configuration, `workstreams.yaml`)."""

    name = models.CharField(max_length=100, unique=True)
    lead = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="led_workstreams"
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class State(models.TextChoices):
    """The scoped workflow labels, one at a time. Triage is the absence of one: a new request
    carries only the team label until its workstream lead triages it."""

    TRIAGE = "triage", "Triage"
    READY_FOR_ASSIGNMENT = "ready_for_assignment", "Ready_for_Assignment"
    NEED_MORE_INFO = "need_more_info", "Need_More_Info"
    UNASSIGNED = "unassigned", "Unassigned"
    IN_PROCESS = "in_process", "In_Process"
    AWAITING_FEEDBACK = "awaiting_feedback", "Awaiting Feedback"
    BLOCKED = "blocked", "Blocked"
    MONITORING = "monitoring", "Monitoring"
    BACKLOG = "backlog", "Backlog"
    WONT_DO = "wont_do", "Won't Do"
    COMPLETED = "completed", "Completed"


CLOSED_STATES = frozenset({State.WONT_DO, State.COMPLETED})


class RequesterLabel(models.TextChoices):
    CSM = "CSM"
    CSM_OPS = "CSM-Ops"
    PS = "PS"
    SA = "SA"
    OPS = "Ops"
    PUBSEC = "PubSec"
    STRATEGIC = "Strategic"
    SCALE = "Scale"
    GROWTH = "Growth"
    ALL_SEGMENTS = "All Segments"
    SLACK_QUESTIONS = "Slack-Questions"
    PRIORITY = "Priority"


class TeamLabel(models.TextChoices):
    CSOPS = "CSOps"
    CS_PROGRAMS = "CS Programs"
    CS_PRODUCT_USAGE_REPORTING = "CS Product Usage Reporting"
    CS_ANALYTICS = "CS Analytics"
    CS_RENEWALOPS = "CS RenewalOps"
    CS_OPS_TECHNICAL_WRITING = "CS Ops Technical Writing"
    GAINSIGHT = "Gainsight"
    GAINSIGHT_BUG = "Gainsight: Bug"
    GAINSIGHT_FEATURE_REQUEST = "Gainsight: Feature Request"


class Weight(models.IntegerChoices):
    """Hours of work; over a day becomes an epic of requests."""

    ONE = 1, "1 (0-1 h)"
    THREE = 3, "3 (1-3 h)"
    FIVE = 5, "5 (3-5 h)"
    SEVEN = 7, "7 (5-7 h)"


class Milestone(models.Model):
    title = models.CharField(max_length=200, unique=True)
    start = models.DateField()
    due = models.DateField()

    class Meta:
        ordering = ["-start", "title"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.start and self.due and self.due < self.start:
            raise ValidationError({"due": "A milestone is due on or after its start."})


class Epic(models.Model):
    """Work over a day: a group of requests of one workstream, each weighted 1 to 7."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    workstream = models.ForeignKey(Workstream, on_delete=models.PROTECT, related_name="epics")

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class OpsRequest(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField()
    requester = models.ForeignKey("core.User", on_delete=models.PROTECT, related_name="ops_requests")
    requester_label = models.CharField(max_length=30, choices=RequesterLabel.choices, blank=True)
    team_label = models.CharField(max_length=40, choices=TeamLabel.choices, default=TeamLabel.CSOPS)
    workstream = models.ForeignKey(
        Workstream, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    assignee = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_ops_requests"
    )
    reviewer = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviewed_ops_requests"
    )
    weight = models.PositiveSmallIntegerField(null=True, blank=True, choices=Weight.choices)
    epic = models.ForeignKey(Epic, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    due_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=24, choices=State.choices, default=State.TRIAGE)
    state_changed_at = models.DateTimeField(
        help_text="When the request took its workflow label; triage policies measure age from it."
    )
    interrupt = models.BooleanField(
        default=False, help_text=f"{INTERRUPT_LABEL}: added to its milestone after the milestone started."
    )
    needs_peer_review = models.BooleanField(
        default=False,
        help_text="The request changes a rule or data object: peer review is required before completing.",
    )
    resolution_summary = models.TextField(blank=True)
    documentation_updated = models.BooleanField(default=False)
    changelog_entry = models.CharField(
        max_length=500, blank=True, help_text="The changelog entry or its URL."
    )
    peer_review_done = models.BooleanField(default=False)
    stakeholders_notified = models.BooleanField(default=False)
    lead_notified = models.BooleanField("workstream lead notified", default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = "CS Ops request"
        indexes = [
            models.Index(fields=["state", "state_changed_at"]),
            models.Index(fields=["workstream", "state"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("requests:detail", args=[self.pk])

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class RequestLabel(models.Model):
    """A free label on a request beyond its team, requester and workflow labels (e.g. one a
    triage policy adds)."""

    request = models.ForeignKey(OpsRequest, on_delete=models.CASCADE, related_name="extra_labels")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["request", "name"], name="requests_label_once")]

    def __str__(self) -> str:
        return self.name


class RequestTransition(models.Model):
    """One move of a request between workflow labels; filing is the move from nothing to Triage."""

    request = models.ForeignKey(OpsRequest, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=24, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=24, choices=State.choices)
    actor = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_state or '-'} → {self.to_state}"


class RequestComment(models.Model):
    """A comment on a request, by a person or by a triage policy (`policy` names it; then at most
    one per request per policy per day, so a re-run never comments twice)."""

    request = models.ForeignKey(OpsRequest, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    on = models.DateField(help_text="The business day it was made.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "policy", "on"],
                condition=~models.Q(policy=""),
                name="requests_policy_comment_once_a_day",
            )
        ]

    def __str__(self) -> str:
        return f"Comment on #{self.request_id}"


class Mention(models.TextChoices):
    REQUESTER = "requester", "Requester"
    ASSIGNEE = "assignee", "Assignee"
    REVIEWER = "reviewer", "Reviewer"
    LEAD = "lead", "Workstream lead"


class Weekday(models.TextChoices):
    MONDAY = "monday", "Monday"
    TUESDAY = "tuesday", "Tuesday"
    WEDNESDAY = "wednesday", "Wednesday"
    THURSDAY = "thursday", "Thursday"
    FRIDAY = "friday", "Friday"
    SATURDAY = "saturday", "Saturday"
    SUNDAY = "sunday", "Sunday"


class TriagePolicy(models.Model):
    """A gitlab-triage-like policy (configuration, `triage_policies.yaml`): conditions select open
    requests, actions apply to all of them at once."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    run_on = models.CharField(
        max_length=10,
        choices=Weekday.choices,
        blank=True,
        help_text="Only on this weekday; empty: every day.",
    )
    # conditions (all must hold; an empty one always holds)
    state = models.CharField(max_length=24, choices=State.choices, blank=True)
    older_than_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="In its workflow label for at least this many days."
    )
    weight_missing = models.BooleanField(default=False)
    assignee_missing = models.BooleanField(default=False)
    labels = models.JSONField(
        default=list, blank=True, help_text="Every one of these team, requester or free labels."
    )
    # actions
    comment = models.TextField(blank=True)
    mention = models.JSONField(
        default=list, blank=True, help_text="Who the comment mentions: requester, assignee, reviewer, lead."
    )
    label = models.CharField(max_length=100, blank=True, help_text="A free label to add.")
    close = models.BooleanField(default=False, help_text="Move to Won't Do (where the workflow allows).")
    summarise = models.BooleanField(default=False, help_text="List the requests by workstream in the report.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "triage policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if not isinstance(self.labels, list) or not all(isinstance(x, str) and x for x in self.labels):
            errors["labels"] = "A list of label names."
        if not isinstance(self.mention, list) or any(m not in Mention.values for m in self.mention):
            errors["mention"] = f"A list of: {', '.join(Mention.values)}."
        elif self.mention and not self.comment.strip():
            errors["mention"] = "A mention needs a comment to carry it."
        if self.state in CLOSED_STATES:
            errors["state"] = "Policies apply to open requests only."
        if not (self.comment.strip() or self.label or self.close or self.summarise):
            errors["comment"] = "A policy needs an action: comment, label, close or summarise."
        if errors:
            raise ValidationError(errors)


class GitLabLink(models.Model):
    """A request mirrored as an issue of a GitLab project (`requests.gitlab`, optional): which
    issue, the issue's updated_at when last synced (a later one means it changed in GitLab), and a
    fingerprint of what was last pushed (a different one means it changed here)."""

    request = models.OneToOneField(OpsRequest, on_delete=models.CASCADE, related_name="gitlab_link")
    project = models.CharField(max_length=255, help_text="The GitLab project's id or path.")
    iid = models.PositiveIntegerField("issue number")
    web_url = models.URLField(max_length=500, blank=True)
    issue_updated_at = models.DateTimeField()
    pushed = models.CharField(max_length=64, blank=True, help_text="Fingerprint of the last push.")
    labels = models.JSONField(default=list, blank=True, help_text="The labels csops last pushed.")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "iid"], name="requests_gitlab_issue_once")]

    def __str__(self) -> str:
        return f"{self.project}#{self.iid}"
