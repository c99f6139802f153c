"""The generic views every domain declares its pages with, and the core pages."""

from __future__ import annotations

import csv
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from csops.core import exports
from csops.core.models import AuditEntry
from csops.core.permissions import has_perm
from csops.core.tables import Column, rows_for

PER_PAGE_CHOICES = (25, 50, 100, 250)


def require(request: HttpRequest, perm: str) -> None:
    if not has_perm(request.user, perm):
        raise PermissionDenied(f"You need the '{perm}' permission.")


def add_action_errors(form, exc: ValidationError) -> None:
    """An action's refusal on the form: each error on its field where the form has it, else above it."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("customers:account_list")


class ThrottledLoginView(auth_views.LoginView):
    """Login that refuses further attempts for a while after repeated failures."""

    template_name = "core/login.html"
    redirect_authenticated_user = True

    def _keys(self) -> list[str]:
        username = (self.request.POST.get("username") or "").lower()[:150]
        address = self.request.META.get("REMOTE_ADDR", "")
        return [f"login-fail:user:{username}", f"login-fail:addr:{address}"]

    def post(self, request, *args, **kwargs):
        if any(cache.get(k, 0) >= settings.LOGIN_THROTTLE_LIMIT for k in self._keys()):
            form = self.get_form()
            form.add_error(None, "Too many failed attempts. Wait 15 minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in self._keys():
            cache.add(key, 0, settings.LOGIN_THROTTLE_WINDOW)
            cache.incr(key)
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    pass


def _sort_choices(columns: list[Column]) -> dict[str, Column]:
    return {c.sort: c for c in columns if c.sort}


class ObjectListView(LoginRequiredMixin, View):
    """A list page: a queryset, a filterset, columns; search, sort, paginate, export as CSV."""

    queryset = None
    filterset_class = None
    columns: list[Column] = []
    default_sort = "name"
    permission = "view_customers"
    title = ""
    export_name = "export"
    template_name = "core/object_list.html"
    add_url_name: str | None = None
    add_permission: str | None = None
    # Bulk actions: rows get checkboxes inside a form posted to `bulk_url_name`, whose buttons
    # and fields come from `bulk_template`; shown only with `bulk_permission`.
    bulk_template: str | None = None
    bulk_url_name: str | None = None
    bulk_permission: str | None = None
    header_template: str | None = None  # shown between the title and the filters

    def filter_data(self, request: HttpRequest):
        """The filters to apply: the query string, or None for none at all."""
        return request.GET or None

    def extra_context(self, request: HttpRequest, objects) -> dict[str, Any]:
        """More for the page; `objects` is the filtered list, sorted, before paging."""
        return {}

    def export_as(self, fmt: str, objects) -> HttpResponse:
        """The filtered list in `fmt` (?export=); a list may offer more formats than CSV and XLSX."""
        if fmt == "csv":
            return self.export(objects)
        if fmt == "xlsx":
            return self.export_xlsx(objects)
        return HttpResponse(
            f"export: {fmt!r} is not one of {', '.join(exports.TABLE_FORMATS)}.", status=400,
            content_type="text/plain",
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, self.permission)
        filterset = self.filterset_class(self.filter_data(request), queryset=self.queryset.all())
        valid = filterset.is_valid() if filterset.is_bound else True
        objects = filterset.qs if valid else self.queryset.none()
        sort = request.GET.get("sort") or self.default_sort
        if sort.lstrip("-") not in _sort_choices(self.columns):
            sort = self.default_sort
        objects = objects.order_by(sort, "pk")
        if fmt := exports.requested(request):
            require(request, "export_customers")
            return self.export_as(fmt, objects)
        try:
            per_page = int(request.GET.get("per_page", 50))
        except ValueError:
            per_page = 50
        per_page = per_page if per_page in PER_PAGE_CHOICES else 50
        page = Paginator(objects, per_page).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        sort_query = query.copy()
        sort_query.pop("sort", None)
        return render(
            request,
            self.template_name,
            {
                "title": self.title,
                "filter_form": filterset.form,
                "columns": self.columns,
                "rows": rows_for(self.columns, page.object_list),
                "page": page,
                "sort": sort,
                "query": query.urlencode(),
                "sort_query": sort_query.urlencode(),
                "per_page": per_page,
                "per_page_choices": PER_PAGE_CHOICES,
                "add_url_name": self.add_url_name
                if self.add_permission and has_perm(request.user, self.add_permission)
                else None,
                "bulk_template": self.bulk_template
                if self.bulk_permission and has_perm(request.user, self.bulk_permission)
                else None,
                "bulk_url_name": self.bulk_url_name,
                "header_template": self.header_template,
                **self.extra_context(request, objects),
            },
            status=200 if valid else 400,
        )

    def export(self, objects) -> StreamingHttpResponse:
        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def rows():
            yield writer.writerow([c.label for c in self.columns])
            for obj in objects.iterator(chunk_size=2000):
                yield writer.writerow([c.text(obj) for c in self.columns])

        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.export_name}-{stamp}.csv"'
        return response

    def export_xlsx(self, objects) -> HttpResponse:
        # Numbers stay numbers in a spreadsheet, so people can sum them there.
        rows = (
            [c.value(obj) if c.numeric else c.text(obj) for c in self.columns]
            for obj in objects.iterator(chunk_size=2000)
        )
        return exports.table_response("xlsx", self.export_name, [c.label for c in self.columns], rows)


class ObjectEditView(LoginRequiredMixin, View):
    """Add or edit one object through its actions; model rules come back as form errors."""

    model = None
    form_class = None
    object_name = ""  # permissions are add_<object_name> and change_<object_name>
    template_name = "core/object_edit.html"
    create_action = None
    update_action = None

    @property
    def permission(self) -> str:
        return f"{'change' if self.kwargs.get('pk') else 'add'}_{self.object_name}"

    def get_object(self, pk: int | None):
        return get_object_or_404(self.model, pk=pk) if pk is not None else None

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        require(request, self.permission)
        obj = self.get_object(pk)
        initial = {k: v for k, v in request.GET.items() if k in self.form_class.base_fields}
        return self.render_form(request, self.form_class(instance=obj, initial=initial), obj)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        require(request, self.permission)
        obj = self.get_object(pk)
        # The form validates its own copy: ModelForm writes into its instance, and the action
        # must see the object as it was to record what changed.
        form = self.form_class(request.POST, instance=self.get_object(pk))
        if form.is_valid():
            fields: dict[str, Any] = dict(form.cleaned_data)
            try:
                if obj is None:
                    obj = type(self).create_action(actor=request.user, **fields)
                else:
                    obj = type(self).update_action(obj, actor=request.user, **fields)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Saved {obj}.")
                return redirect(obj.get_absolute_url())
        return self.render_form(request, form, obj, status=400)

    def render_form(self, request, form, obj, status: int = 200) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "object": obj,
                "model_name": self.model._meta.verbose_name,
            },
            status=status,
        )


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    require(request, "view_audit")
    entries = AuditEntry.objects.select_related("actor", "content_type")
    if kind := request.GET.get("type"):
        entries = entries.filter(content_type__model=kind)
    if object_id := request.GET.get("object"):
        entries = entries.filter(object_id=object_id)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_log.html", {"page": page})


class ObjectDeleteView(LoginRequiredMixin, View):
    """Confirm, then delete one object through its action."""

    model = None
    permission = ""
    delete_action = None
    success_url_name = ""
    template_name = "core/object_delete.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        require(request, self.permission)
        obj = get_object_or_404(self.model, pk=pk)
        return render(
            request,
            self.template_name,
            {
                "object": obj,
                "model_name": self.model._meta.verbose_name,
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        require(request, self.permission)
        obj = get_object_or_404(self.model, pk=pk)
        name = str(obj)
        type(self).delete_action(obj, actor=request.user)
        messages.success(request, f"Deleted {name}.")
        return redirect(self.success_url_name)


def save_posted_form(
    request: HttpRequest, form, save, *, template: str, context: dict, message: str = "Saved."
) -> HttpResponse:
    """Validate a posted form and save it through an action; then go to the saved object's page.

    Bad input, and any model rule the action enforces, come back as the form with its errors and
    a 400, so nothing half-written and never a server error.
    """
    if form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, message)
            return redirect(saved.get_absolute_url())
    return render(request, template, {**context, "form": form}, status=400)
