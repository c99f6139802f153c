from django import forms

from csops.cockpit.models import Objective, SuccessPlan


class SuccessPlanForm(forms.ModelForm):
    class Meta:
        model = SuccessPlan
        fields = ["name", "type", "status"]


class ObjectiveForm(forms.ModelForm):
    class Meta:
        model = Objective
        fields = ["name", "category", "stage", "status", "due"]
        widgets = {"due": forms.DateInput(attrs={"type": "date"})}
