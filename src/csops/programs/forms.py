import re

from django import forms

from csops.customers.models import Account, Segment


class EnrolForm(forms.Form):
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(),
        required=False,
        to_field_name="name",
        empty_label="—",
        help_text="Every account of the segment.",
    )
    accounts = forms.CharField(
        label="Or accounts (CRM ids)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Separated by commas, spaces or new lines.",
    )

    def clean(self):
        data = super().clean()
        ids = [i for i in re.split(r"[\s,;]+", data.get("accounts") or "") if i]
        if bool(data.get("segment")) == bool(ids):
            raise forms.ValidationError("Choose a segment, or list accounts' CRM ids (not both).")
        if ids:
            found = dict(Account.objects.filter(external_id__in=ids).values_list("external_id", "pk"))
            missing = [i for i in ids if i not in found]
            if missing:
                self.add_error("accounts", f"No account with CRM id {missing[0]!r}.")
            data["ids"] = list(found.values())
        return data

    def account_ids(self) -> list[int]:
        if segment := self.cleaned_data.get("segment"):
            return list(Account.objects.filter(segment=segment).values_list("pk", flat=True))
        return self.cleaned_data["ids"]


class PreviewForm(forms.Form):
    account = forms.CharField(
        label="Account (CRM id)", help_text="Preview as this account's program recipient."
    )

    def clean_account(self) -> Account:
        value = self.cleaned_data["account"].strip()
        account = Account.objects.filter(external_id=value).first()
        if account is None:
            raise forms.ValidationError(f"No account with CRM id {value!r}.")
        return account
