from django import forms

from csops.health.models import HealthUpdate


class HealthUpdateForm(forms.ModelForm):
    class Meta:
        model = HealthUpdate
        fields = ["sentiment", "summary", "context", "needed", "next_date"]
        widgets = {
            "next_date": forms.DateInput(attrs={"type": "date"}),
            "context": forms.Textarea(attrs={"rows": 3}),
            "needed": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {"next_date": "Empty: weekly when the renewal is this or next quarter, else monthly."}
