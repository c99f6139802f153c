"""The forms of the engagement pages. They parse and offer choices; every rule (who may file, the
account's eligibility, the 1,000-character limit, the topic rules) is the actions' to enforce, so
a refusal reads the same from the page and the API."""

from __future__ import annotations

from django import forms

from csops.cockpit.models import Priority
from csops.core.models import User
from csops.customers.models import Account, Contact
from csops.engagements.actions import CHALLENGES_MAX
from csops.engagements.models import Environment, Intervention, RiskType, UseCase

DATE = forms.DateInput(attrs={"type": "date"})


def _contacts(account: Account):
    return Contact.objects.filter(account=account).order_by("last_name", "first_name", "pk")


def _contact_label(contact: Contact) -> str:
    if contact.email_opt_out:
        return f"{contact} (opted out of emails)"
    return f"{contact} <{contact.email}>" if contact.email else f"{contact} (no email address)"


class ContactChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return _contact_label(obj)


class ContactsChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return _contact_label(obj)


class RequestForm(forms.Form):
    """What the account owner tells the CSE. `needs_approver`: the account's ARR is above the
    policy's range, so the regional sales leader who approved it is asked for."""

    contact = ContactChoice(queryset=Contact.objects.none(), label="Customer contact")
    topic = forms.CharField(max_length=200, help_text="What the customer needs help with, in a line.")
    interventions = forms.MultipleChoiceField(
        label="Interventions needed", choices=Intervention.choices, widget=forms.CheckboxSelectMultiple
    )
    primary_use_case = forms.ChoiceField(label="Primary use case", choices=[("", "—"), *UseCase.choices])
    risk_type = forms.ChoiceField(label="Type of risk", choices=[("", "—"), *RiskType.choices])
    environment = forms.ChoiceField(choices=[("", "—"), *Environment.choices])
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    challenges = forms.CharField(
        label="Challenges / pain points",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": CHALLENGES_MAX}),
        help_text=f"Optional, at most {CHALLENGES_MAX:,} characters.",
    )
    opt_out_outreach = forms.BooleanField(
        label="No automatic outreach: I will arrange the call with the customer myself",
        required=False,
        help_text="Otherwise the CSE emails the contact, with you in copy, once the CTA is raised.",
    )
    opportunity = forms.ModelChoiceField(queryset=None, required=False, empty_label="— none —")
    approved_by = forms.ModelChoiceField(
        label="Approved by (regional sales leader)", queryset=User.objects.none(), required=False
    )
    approval_note = forms.CharField(label="Approval note", max_length=300, required=False)

    def __init__(self, *args, account: Account, needs_approver: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = _contacts(account)
        self.fields["opportunity"].queryset = account.opportunities.order_by("-close_date", "pk")
        if needs_approver:
            self.fields["approved_by"].required = True
            self.fields["approved_by"].queryset = User.objects.filter(is_active=True, is_pool=False).order_by(
                "first_name", "last_name", "username"
            )
            self.fields["approved_by"].help_text = (
                "The account's ARR is above the range a request may have without approval."
            )
        else:
            del self.fields["approved_by"], self.fields["approval_note"]

    def clean_challenges(self) -> str:
        # A browser submits a textarea's line breaks as CRLF but counts them as one character
        # against maxlength: count them as the user saw them, or a text that fitted is refused.
        return self.cleaned_data["challenges"].replace("\r\n", "\n")


class CallForm(forms.Form):
    date = forms.DateField(label="Date of the call", widget=DATE)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    attendees = ContactsChoice(
        label="Customer attendees",
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: the request's contact.",
    )

    def __init__(self, *args, account: Account, **kwargs):
        kwargs.setdefault("prefix", "call")
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = _contacts(account)


class FollowUpForm(forms.Form):
    contacts = ContactsChoice(
        label="Recipients", queryset=Contact.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), help_text="The key points discussed in the call."
    )
    action_items = forms.CharField(
        label="Action items", widget=forms.Textarea(attrs={"rows": 3}), help_text="Next steps agreed upon."
    )
    resources = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Documentation and links that will help."
    )
    deploy_survey = forms.BooleanField(
        label="Deploy the CSE engagement CSAT survey to the recipients", required=False, initial=True
    )

    def __init__(self, *args, account: Account, **kwargs):
        kwargs.setdefault("prefix", "fu")
        super().__init__(*args, **kwargs)
        self.fields["contacts"].queryset = _contacts(account)


class QuestionForm(forms.Form):
    asked_on = forms.DateField(label="Asked on", widget=DATE)
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    topic = forms.CharField(
        max_length=200,
        required=False,
        help_text="Leave empty when it is about this request's topic. A new topic, or a question more "
        "than 4 weeks after the last contact, opens a new request.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "q")
        super().__init__(*args, **kwargs)
