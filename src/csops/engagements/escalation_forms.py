"""Escalation forms, and the filters shared by the escalation list page and the API's list."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Q

from csops.customers.models import Account, SupportTicket
from csops.engagements import escalations
from csops.engagements.models import (
    AccountIssue,
    Escalation,
    EscalationKind,
    EscalationStatus,
    Severity,
)

YES_NO = [("true", "Yes"), ("false", "No")]


class EscalationFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=EscalationStatus.choices, label="Status", distinct=False)
    severity = filters.MultipleChoiceFilter(choices=Severity.choices, label="Severity", distinct=False)
    kind = filters.ChoiceFilter(choices=EscalationKind.choices, label="Kind", empty_label="Any")
    overdue = filters.ChoiceFilter(
        choices=YES_NO, method="filter_overdue", label="Update overdue", empty_label="Any"
    )
    account = filters.NumberFilter(field_name="account_id", label="Account id")

    class Meta:
        model = Escalation
        fields: list[str] = []

    def filter_overdue(self, queryset, name, value):
        """Overdue: not resolved, and the day the next update was due has passed."""
        if not value:
            return queryset
        late = Q(next_update_due__lt=escalations.business_today()) & ~Q(status=EscalationStatus.RESOLVED)
        return queryset.filter(late) if value == "true" else queryset.exclude(late)


class AccountChoiceForm(forms.Form):
    account = forms.CharField(
        label="Account",
        max_length=64,
        help_text="Its CRM id, or its number in csops (the id in its page's address).",
    )

    def clean_account(self) -> Account:
        value = self.cleaned_data["account"].strip()
        found = Account.objects.filter(external_id=value).select_related("segment").first()
        if found is None and value.isdigit():
            found = Account.objects.filter(pk=int(value)).select_related("segment").first()
        if found is None:
            raise forms.ValidationError(f"No account with the CRM id or number {value!r}.")
        return found


class EscalationForm(forms.Form):
    kind = forms.ChoiceField(choices=EscalationKind.choices, widget=forms.RadioSelect)
    ticket = forms.ModelChoiceField(
        queryset=SupportTicket.objects.none(),
        required=False,
        empty_label="—",
        help_text="Needed for a support escalation; an account escalation may name one too.",
    )
    issue = forms.ChoiceField(
        choices=[("", "—"), *AccountIssue.choices],
        required=False,
        help_text="Needed for an account escalation.",
    )
    severity = forms.ChoiceField(choices=Severity.choices)
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    override_reason = forms.CharField(
        label="Override reason",
        max_length=300,
        required=False,
        help_text="Needed when the account does not meet every criterion: why escalate anyway.",
    )

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ticket"].queryset = account.tickets.filter(closed_at__isnull=True)


class UpdateForm(forms.Form):
    body = forms.CharField(label="Update", widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(
        choices=[
            ("", "unchanged"),
            *((v, label) for v, label in EscalationStatus.choices if v != EscalationStatus.RESOLVED),
        ],
        required=False,
    )
    severity = forms.ChoiceField(choices=[("", "unchanged"), *Severity.choices], required=False)


class ResolveForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
