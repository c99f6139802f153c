from django import forms

from csops.customers.models import Contact
from csops.timeline.models import Activity


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["type", "subject", "date", "external_attendees", "sentiment", "notes"]
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"external_attendees": "Customer attendees"}

    def __init__(self, *args, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        contacts = Contact.objects.filter(account=account) if account else Contact.objects.none()
        self.fields["external_attendees"].queryset = contacts.select_related("persona")
        self.fields["external_attendees"].required = False
