"""The forms of the request pages. They parse and offer choices; the rules (who triages, the
transition table, the reviewer who is not the assignee, the closing checklist) are the actions'."""

from __future__ import annotations

from django import forms

from csops.core.models import User
from csops.requests import selectors
from csops.requests.actions import CHECKLIST, TITLE_MAX, TRANSITIONS
from csops.requests.filtersets import REQUESTER_LABELS, TEAM_LABELS
from csops.requests.models import (
    Milestone,
    OpsRequest,
    State,
    TeamLabel,
    Weight,
    Workstream,
)

DATE = forms.DateInput(attrs={"type": "date"})
WEIGHTS = [("", "— none —"), *((str(v), label) for v, label in Weight.choices)]


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj} ({obj.username})"


def _weight(value: str) -> int | None:
    return int(value) if value else None


class IntakeForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, help_text="What is needed, in a line.")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What is needed, for whom, why, and by when; links to examples help.",
    )
    requester_label = forms.ChoiceField(
        label="Requested by (team)",
        choices=[("", "—"), *REQUESTER_LABELS],
        required=False,
        help_text="The team the request comes from or benefits.",
    )
    team_label = forms.ChoiceField(
        label="Team label",
        choices=TEAM_LABELS,
        initial=TeamLabel.CSOPS,
        help_text="Leave CSOps unless you know the CS Ops team it is for.",
    )
    workstream = forms.ModelChoiceField(
        queryset=Workstream.objects.all(),
        required=False,
        empty_label="— I don't know: the leads decide —",
        help_text="Optional: its lead reviews the request at the weekly triage.",
    )
    due_date = forms.DateField(label="Needed by", required=False, widget=DATE)


class TriageForm(forms.Form):
    """The lead's weekly review of a new request: where it goes, who does it, how big it is."""

    workstream = forms.ModelChoiceField(queryset=Workstream.objects.none())
    to = forms.ChoiceField(label="Move to", choices=[(s.value, s.label) for s in TRANSITIONS[State.TRIAGE]])
    assignee = PersonChoice(queryset=User.objects.none(), required=False, empty_label="— nobody yet —")
    weight = forms.TypedChoiceField(choices=WEIGHTS, coerce=_weight, empty_value=None, required=False)
    team_label = forms.ChoiceField(label="Team label", choices=TEAM_LABELS)
    requester_label = forms.ChoiceField(
        label="Requester label", choices=[("", "—"), *REQUESTER_LABELS], required=False
    )
    milestone = forms.ModelChoiceField(
        queryset=Milestone.objects.all(),
        required=False,
        help_text="Joining a milestone after its start marks the request CSOps - Interrupt.",
    )
    due_date = forms.DateField(label="Due", required=False, widget=DATE)
    needs_peer_review = forms.BooleanField(
        label="Changes a rule or data object: peer review required before it completes", required=False
    )
    note = forms.CharField(required=False, max_length=500, help_text="Why, for the history.")

    def __init__(self, *args, request: OpsRequest, lead: User, **kwargs):
        kwargs.setdefault("prefix", "triage")
        kwargs.setdefault(
            "initial",
            {
                "workstream": request.workstream_id,
                "team_label": request.team_label,
                "requester_label": request.requester_label,
                "due_date": request.due_date,
                "assignee": request.assignee_id,
                "weight": request.weight,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["workstream"].queryset = selectors.workstreams_triaged_by(lead)
        self.fields["assignee"].queryset = selectors.people()


class MoveForm(forms.Form):
    to = forms.ChoiceField(label="Move to")
    note = forms.CharField(required=False, max_length=500, help_text="Optional: why, for the history.")

    def __init__(self, *args, moves: list[State], **kwargs):
        kwargs.setdefault("prefix", "move")
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [(s.value, s.label) for s in moves]


class FeedbackForm(forms.Form):
    """Peer review (seed 000): the owner writes the resolution summary and names the reviewer; the
    owner stays assignee."""

    resolution_summary = forms.CharField(
        label="Resolution summary",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What was done, where, and what the reviewer should check.",
    )
    reviewer = PersonChoice(
        label="Peer reviewer", queryset=User.objects.none(), help_text="Not the assignee: another person."
    )

    def __init__(self, *args, request: OpsRequest, **kwargs):
        kwargs.setdefault("prefix", "feedback")
        kwargs.setdefault(
            "initial", {"resolution_summary": request.resolution_summary, "reviewer": request.reviewer_id}
        )
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = selectors.people().exclude(pk=request.assignee_id)


class ChecklistForm(forms.Form):
    """The closing checklist. Peer review is ticked by the reviewer (or an admin) only: for anyone
    else the box shows its state and cannot change."""

    documentation_updated = forms.BooleanField(label="Documentation (handbook) updated", required=False)
    changelog_entry = forms.CharField(
        label="Changelog entry", max_length=500, required=False, help_text="The entry, or its URL."
    )
    peer_review_done = forms.BooleanField(label="Peer review done", required=False)
    stakeholders_notified = forms.BooleanField(label="Stakeholders told", required=False)
    lead_notified = forms.BooleanField(label="Workstream lead told, with a summary", required=False)

    def __init__(self, *args, request: OpsRequest, may_review: bool, **kwargs):
        kwargs.setdefault("prefix", "checklist")
        kwargs.setdefault("initial", {name: getattr(request, name) for name in CHECKLIST})
        super().__init__(*args, **kwargs)
        review = self.fields["peer_review_done"]
        review.help_text = (
            "Required: this request changes a rule or data object."
            if request.needs_peer_review
            else "Advised, not required for this request."
        )
        if not may_review:
            review.disabled = True
            review.help_text += f" Ticked by the reviewer ({request.reviewer or 'not named yet'})."

    def changes(self, request: OpsRequest) -> dict[str, bool | str]:
        """Only what the form changes: the action checks who may tick what."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if not self.fields[name].disabled and value != getattr(request, name)
        }


class WeightForm(forms.Form):
    weight = forms.TypedChoiceField(
        choices=WEIGHTS,
        coerce=_weight,
        empty_value=None,
        required=False,
        help_text="Over 7 (a day's work): split it into an epic of requests.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "weight")
        super().__init__(*args, **kwargs)


class AssignForm(forms.Form):
    assignee = PersonChoice(queryset=User.objects.none(), required=False, empty_label="— nobody —")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "assign")
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = selectors.people()


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "comment")
        super().__init__(*args, **kwargs)
