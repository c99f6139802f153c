from django import forms

from csops.customers.imports import uploadable_kinds
from csops.customers.models import Account, Contact, Opportunity, SupportTicket


class DateInput(forms.DateInput):
    input_type = "date"


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = [
            "external_id", "name", "parent", "segment", "geo", "industry", "employees",
            "sales_segment", "arr", "lam", "tier", "deployment", "lifecycle_stage", "csm_priority",
            "contract_start", "renewal_date", "licensed_users", "ae", "sa", "csm", "cse",
            "renewals_manager", "csm_sentiment", "csm_sentiment_date", "cs_project_url",
            "slack_channel",
        ]
        widgets = {
            "contract_start": DateInput, "renewal_date": DateInput, "csm_sentiment_date": DateInput,
            "parent": forms.NumberInput,
        }
        help_texts = {"parent": "The parent account's id (see its page address)."}


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["external_id", "account", "first_name", "last_name", "email", "title", "phone",
                  "persona", "email_opt_out"]
        widgets = {"account": forms.NumberInput}


class OpportunityForm(forms.ModelForm):
    class Meta:
        model = Opportunity
        fields = ["external_id", "account", "name", "type", "arr_basis", "net_arr", "close_date",
                  "stage", "forecast_category", "risk_impact", "risk_reason"]
        widgets = {"close_date": DateInput, "account": forms.NumberInput}


class TicketForm(forms.ModelForm):
    class Meta:
        model = SupportTicket
        fields = ["external_id", "account", "subject", "severity", "is_emergency", "opened_at",
                  "closed_at"]
        widgets = {"account": forms.NumberInput}


def _import_kinds() -> list[tuple[str, str]]:
    # Read when the form is built: other apps register their kinds as they load.
    return [(kind, kind.title()) for kind in uploadable_kinds()]


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=_import_kinds)
    file = forms.FileField(help_text="CSV (UTF-8) or Parquet. Rows are matched on their CRM id.")
    partial = forms.BooleanField(
        required=False, label="Import the valid rows even if some rows are bad",
    )
