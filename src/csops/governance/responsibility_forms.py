"""Core responsibilities tracker forms, and the filters its list page and the API's list share."""

from __future__ import annotations

import django_filters as filters
from django import forms

from csops.core.models import User
from csops.customers.filtersets import SearchFilterSet
from csops.governance.models import CoreProcess, Rag

TEXT = {"rows": 3}


def people():
    """Who may own a process: active people (not pools)."""
    return User.objects.filter(is_active=True, is_pool=False).order_by("username")


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else obj.username


class ProcessFilterSet(SearchFilterSet):
    search_fields = ("name", "description", "reason", "plan")
    status = filters.MultipleChoiceFilter(choices=Rag.choices, label="Status", distinct=False)
    owner = filters.ModelChoiceFilter(
        queryset=people().filter(pk__in=CoreProcess.objects.values("owner_id")),
        to_field_name="username", label="Owner",
    )

    class Meta:
        model = CoreProcess
        fields: list[str] = []


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Rag.choices)
    reason = forms.CharField(
        widget=forms.Textarea(attrs=TEXT), required=False,
        help_text="Needed unless green: why it has this status.",
    )
    plan = forms.CharField(
        widget=forms.Textarea(attrs=TEXT), required=False,
        help_text="Needed unless green: what is being done to make it green, by when.",
    )


class ProcessForm(StatusForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs=TEXT), required=False)
    owner = OwnerChoiceField(queryset=people(), help_text="The person accountable for the process.")

    field_order = ["name", "description", "owner", "status", "reason", "plan"]


class EditForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def __init__(self, *args, can_rename: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_rename:
            del self.fields["name"]


class OwnerForm(forms.Form):
    owner = OwnerChoiceField(queryset=people())
