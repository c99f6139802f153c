"""The Sales→CS handoff pages: the list (filters: a missing field, the AE, the segment) and one
handoff with its edit form. Every change goes through `handoff.update_handoff`."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from csops.core.models import Role, User
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, add_action_errors, require
from csops.customers.models import Contact, Segment
from csops.renewals import handoff as actions
from csops.renewals.models import Handoff

MISSING_CHOICES = [("any", "Any required field"), *actions.REQUIRED.items()]


class HandoffFilterSet(filters.FilterSet):
    missing = filters.ChoiceFilter(
        choices=MISSING_CHOICES, method="filter_missing", label="Missing", empty_label="—"
    )
    complete = filters.ChoiceFilter(
        choices=[("true", "Yes"), ("false", "No")], method="filter_complete", label="Complete",
        empty_label="Any",
    )
    ae = filters.ModelChoiceFilter(
        field_name="account__ae", label="AE", queryset=User.objects.filter(role=Role.ACCOUNT_OWNER)
    )
    segment = filters.ModelChoiceFilter(field_name="account__segment", label="Segment",
                                        queryset=Segment.objects.all())

    class Meta:
        model = Handoff
        fields: list[str] = []

    def filter_missing(self, queryset, name, value):
        return queryset.filter(actions.missing_q(None if value == "any" else value)) if value else queryset

    def filter_complete(self, queryset, name, value):
        return queryset.filter(completed_at__isnull=value != "true") if value else queryset


class HandoffForm(forms.ModelForm):
    key_contacts = forms.ModelMultipleChoiceField(
        queryset=Contact.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Key contacts",
    )

    class Meta:
        model = Handoff
        fields = list(actions.EDITABLE)
        widgets = {name: forms.Textarea(attrs={"rows": 3}) for name in
                   ("why_they_bought", "metrics", "risks", "recommended_features")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key_contacts"].queryset = actions.contact_choices(self.instance)
        for field in self.fields.values():
            # Saving a partial handoff is allowed; missing fields are listed, not refused.
            field.required = False

    def clean(self):
        data = super().clean()
        for name, error_list in list(self.errors.items()):
            label = self.fields[name].label if name in self.fields else name
            prefix = f"{str(label).capitalize()}: "
            self.errors[name] = self.error_class(
                [e if str(e).startswith(prefix) else prefix + str(e) for e in error_list]
            )
        return data


class HandoffListView(ObjectListView):
    queryset = actions.with_counts(
        Handoff.objects.select_related("account__ae", "account__csm", "account__segment", "opportunity")
    )
    filterset_class = HandoffFilterSet
    title = "Sales→CS handoffs"
    export_name = "handoffs"
    default_sort = "-id"
    header_template = "renewals/handoff_list_header.html"
    columns = [
        Column("opportunity", "Opportunity", sort="opportunity__name", link=True),
        Column("account", "Account", sort="account__name"),
        Column("account.segment", "Segment", sort="account__segment__name"),
        Column("account.ae", "AE"),
        Column("account.csm", "CSM"),
        Column("opportunity.close_date", "Won on", sort="opportunity__close_date"),
        Column("missing_fields", "Missing", display=lambda v: ", ".join(v) or "—"),
        Column("completed_at", "Complete", sort="completed_at", display=lambda v: f"{v:%Y-%m-%d}"),
    ]


def _handoff(pk: int) -> Handoff:
    return get_object_or_404(
        Handoff.objects.select_related(
            "account__segment", "account__ae", "account__csm", "opportunity", "cta"
        ),
        pk=pk,
    )


@login_required
def handoff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The handoff, and for the AE (an account owner) or an admin the form to fill it."""
    require(request, "view_customers")
    handoff = _handoff(pk)
    can_edit = has_perm(request.user, actions.PERMISSION)
    form, status = HandoffForm(instance=handoff), 200
    if request.method == "POST":
        require(request, actions.PERMISSION)
        # The form writes into its instance as it validates: give it a copy, so the action sees
        # (and audits) the change against the stored handoff.
        form = HandoffForm(request.POST, instance=_handoff(pk))
        if form.is_valid():
            try:
                actions.update_handoff(handoff, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_action_errors(form, exc)
            else:
                messages.success(request, "Handoff saved.")
                return redirect(handoff)
        handoff.refresh_from_db()
        status = 400
    return render(
        request,
        "renewals/handoff_detail.html",
        {
            "handoff": handoff,
            "missing": actions.missing_fields(handoff),
            "contacts": handoff.key_contacts.all(),
            "form": form,
            "can_edit": can_edit,
        },
        status=status,
    )
