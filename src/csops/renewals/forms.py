"""Forms of the renewal page: its pipeline fields, and a risk update."""

from __future__ import annotations

from django import forms

from csops.core.models import User
from csops.customers.models import Opportunity, RiskImpact, RiskReason
from csops.health.forms import HealthUpdateForm
from csops.renewals.actions import RENEWAL_FIELDS

DATE = forms.DateInput(attrs={"type": "date"})


class RenewalForm(forms.ModelForm):
    class Meta:
        model = Opportunity
        fields = list(RENEWAL_FIELDS)
        widgets = {"next_step_date": DATE, "renewal_due": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["renewal_dri"].queryset = User.objects.filter(is_active=True).order_by("username")


class RiskUpdateForm(HealthUpdateForm):
    """A health update with the renewal's risk and next step; next update: the policy's cadence."""

    risk_impact = forms.ModelChoiceField(queryset=RiskImpact.objects.all(), required=False)
    risk_reason = forms.ModelChoiceField(queryset=RiskReason.objects.all(), required=False)
    next_step = forms.CharField(max_length=255, required=False)
    next_step_date = forms.DateField(required=False, widget=DATE)

    class Meta(HealthUpdateForm.Meta):
        fields = ["sentiment", "summary", "context", "needed"]

    def renewal_fields(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in ("risk_impact", "risk_reason", "next_step", "next_step_date")
        }
