from __future__ import annotations

from django import forms

from csops.governance.models import Verdict
from csops.requests.models import CLOSED_STATES, OpsRequest


def _open_requests():
    return OpsRequest.objects.exclude(state__in=CLOSED_STATES).order_by("-pk")


class ProposalForm(forms.Form):
    """What every change request says: what, why, the request it answers, whether to ask for review."""

    title = forms.CharField(label="What", max_length=200, help_text="One line for the changelog.")
    why = forms.CharField(
        label="Why",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required: the changelog keeps the reason with every change.",
    )
    ops_request = forms.ModelChoiceField(
        queryset=_open_requests(),
        required=False,
        label="CS Ops request",
        help_text="The request this change answers, if any.",
    )
    ask_review = forms.BooleanField(
        required=False, label="Ask another admin to review it even where review is optional"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ops_request"].queryset = _open_requests()


class DefinitionForm(ProposalForm):
    definition = forms.CharField(
        label="Definition (YAML)",
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "code"}),
        help_text="The object as it appears in its configuration file, one field per line.",
    )
    field_order = ["definition", "title", "why", "ops_request", "ask_review"]


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(
        label="Review",
        choices=[
            (Verdict.APPROVE, "Approve (applies it now)"),
            (Verdict.REQUEST_CHANGES, "Request changes"),
            (Verdict.REJECT, "Reject"),
            (Verdict.COMMENT, "Comment"),
        ],
        widget=forms.RadioSelect,
        initial=Verdict.COMMENT,
    )
    body = forms.CharField(
        label="Remarks",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required unless you approve.",
    )


class ReviseForm(forms.Form):
    """One YAML box per object of the change request; an emptied box removes the object."""

    note = forms.CharField(label="What changed", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        for item in items:
            self.fields[f"item_{item.pk}"] = forms.CharField(
                label=f"{item.kind}: {item.key}",
                required=False,
                widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
            )
