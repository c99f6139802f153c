from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from csops.cockpit.selectors import success_plan_context
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectDeleteView, ObjectEditView, ObjectListView, require
from csops.customers import actions, selectors
from csops.customers.actions import ImportRejected
from csops.customers.filtersets import (
    AccountFilterSet,
    ContactFilterSet,
    OpportunityFilterSet,
    TicketFilterSet,
)
from csops.customers.forms import AccountForm, ContactForm, ImportForm, OpportunityForm, TicketForm
from csops.customers.imports import WRITERS, ImportFileError, read_csv_bytes, read_rows, validate_rows
from csops.customers.models import Account, Contact, ImportRun, Opportunity, SupportTicket
from csops.health.forms import HealthUpdateForm
from csops.health.selectors import account_health
from csops.programs.survey_selectors import account_surveys
from csops.timeline.selectors import timeline_context


def money(value) -> str:
    return f"{value:,.0f}"


class AccountListView(ObjectListView):
    title = "Accounts"
    queryset = selectors.accounts()
    filterset_class = AccountFilterSet
    export_name = "accounts"
    add_url_name = "customers:account_add"
    add_permission = "add_account"
    columns = [
        Column("name", "Name", sort="name", link=True),
        Column("external_id", "CRM id", sort="external_id"),
        Column("segment.name", "Segment", sort="segment__name"),
        Column("geo.name", "Geo", sort="geo__name"),
        Column("csm", "CSM", sort="csm__last_name"),
        Column("csm_priority", "Priority", sort="csm_priority"),
        Column("arr", "ARR", sort="arr", numeric=True, display=money),
        Column("renewal_date", "Renewal", sort="renewal_date"),
        Column("health_score", "Health", sort="health_score", numeric=True,
               display=lambda v: f"{v:.0f}"),
        Column("get_csm_sentiment_display", "Sentiment", sort="csm_sentiment"),
    ]


class ContactListView(ObjectListView):
    title = "Contacts"
    queryset = selectors.contacts()
    filterset_class = ContactFilterSet
    default_sort = "last_name"
    export_name = "contacts"
    columns = [
        Column("last_name", "Last name", sort="last_name"),
        Column("first_name", "First name", sort="first_name"),
        Column("account", "Account", sort="account__name", link=True),
        Column("email", "Email", sort="email"),
        Column("persona.name", "Persona", sort="persona__name"),
        Column("email_opt_out", "Opted out", display=lambda v: "yes" if v else ""),
    ]


class OpportunityListView(ObjectListView):
    title = "Opportunities"
    queryset = selectors.opportunities()
    filterset_class = OpportunityFilterSet
    default_sort = "close_date"
    export_name = "opportunities"
    columns = [
        Column("name", "Name", sort="name", link=True),
        Column("get_type_display", "Type", sort="type"),
        Column("stage", "Stage", sort="stage"),
        Column("close_date", "Close date", sort="close_date"),
        Column("arr_basis", "ARR basis", sort="arr_basis", numeric=True, display=money),
        Column("net_arr", "Net ARR", sort="net_arr", numeric=True, display=money),
        Column("get_forecast_category_display", "Forecast", sort="forecast_category"),
        Column("risk_reason.name", "Risk reason"),
    ]


class TicketListView(ObjectListView):
    title = "Support tickets"
    queryset = selectors.tickets()
    filterset_class = TicketFilterSet
    default_sort = "-opened_at"
    export_name = "tickets"
    columns = [
        Column("subject", "Subject", sort="subject", link=True),
        Column("account.name", "Account", sort="account__name"),
        Column("severity", "Severity", sort="severity"),
        Column("is_emergency", "Emergency", display=lambda v: "yes" if v else ""),
        Column("opened_at", "Opened", sort="opened_at",
               display=lambda v: timezone.localtime(v).strftime("%Y-%m-%d %H:%M")),
        Column("closed_at", "Closed", sort="closed_at",
               display=lambda v: timezone.localtime(v).strftime("%Y-%m-%d %H:%M")),
    ]


class AccountEditView(ObjectEditView):
    model = Account
    form_class = AccountForm
    create_action = actions.create_account
    update_action = actions.update_account
    object_name = "account"


class ContactEditView(ObjectEditView):
    model = Contact
    form_class = ContactForm
    create_action = actions.create_contact
    update_action = actions.update_contact
    object_name = "contact"


class OpportunityEditView(ObjectEditView):
    model = Opportunity
    form_class = OpportunityForm
    create_action = actions.create_opportunity
    update_action = actions.update_opportunity
    object_name = "opportunity"


class TicketEditView(ObjectEditView):
    model = SupportTicket
    form_class = TicketForm
    create_action = actions.create_ticket
    update_action = actions.update_ticket
    object_name = "ticket"


class AccountDeleteView(ObjectDeleteView):
    model = Account
    permission = "delete_account"
    delete_action = actions.delete_account
    success_url_name = "customers:account_list"


class ContactDeleteView(ObjectDeleteView):
    model = Contact
    permission = "delete_contact"
    delete_action = actions.delete_contact
    success_url_name = "customers:contact_list"


class OpportunityDeleteView(ObjectDeleteView):
    model = Opportunity
    permission = "delete_opportunity"
    delete_action = actions.delete_opportunity
    success_url_name = "customers:opportunity_list"


class TicketDeleteView(ObjectDeleteView):
    model = SupportTicket
    permission = "delete_ticket"
    delete_action = actions.delete_ticket
    success_url_name = "customers:ticket_list"


@login_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    try:
        account = selectors.account_360(pk)
    except ObjectDoesNotExist:
        raise Http404("No such account.") from None
    user = request.user
    return render(request, "customers/account_detail.html", {
        "account": account,
        "team": selectors.account_team(account),
        "contacts": account.contacts.all(),
        "opportunities": account.opportunities.all(),
        "tickets": account.tickets.all(),
        "children": account.children.all(),
        "custom_fields": selectors.custom_field_values(account),
        "health_panel": account_health(account.pk),
        "health_updates": list(account.health_updates.select_related("author")[:10]),
        "health_form": HealthUpdateForm(),
        "today": timezone.localdate(),
        **timeline_context(request.user, account),
        **success_plan_context(request.user, account),
        **account_surveys(account),
        "sentiment_age": (timezone.localdate() - account.csm_sentiment_date).days
        if account.csm_sentiment_date else None,
        "can_change": has_perm(user, "change_account"),
        "can_delete": has_perm(user, "delete_account"),
        "can_view_audit": has_perm(user, "view_audit"),
        "can_add_contact": has_perm(user, "add_contact"),
        "can_add_opportunity": has_perm(user, "add_opportunity"),
    })


@login_required
def import_page(request: HttpRequest) -> HttpResponse:
    require(request, "import_data")
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "runs": ImportRun.objects.select_related("actor")[:20]}
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        kind = form.cleaned_data["kind"]
        try:
            if upload.name.lower().endswith(".parquet"):
                path = settings.DATA_DIR / "uploads" / f"{timezone.now():%Y%m%d%H%M%S}-{upload.name}"
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(upload.read())
                header, rows = read_rows(path)
            else:
                header, rows = read_csv_bytes(upload.read(), upload.name)
            validation = validate_rows(kind, header, list(rows))
            error_path = settings.DATA_DIR / "import-errors" / f"{timezone.now():%Y%m%d%H%M%S}.csv"
            error_path.parent.mkdir(exist_ok=True)
            write = WRITERS.get(kind, actions.import_records)
            run = write(validation, actor=request.user, file_name=upload.name,
                        partial=form.cleaned_data["partial"], error_path=error_path)
            context.update(run=run, errors=validation.errors[:200],
                           error_count=len(validation.errors),
                           error_file=error_path.name if validation.errors else None,
                           ignored=validation.ignored_columns)
        except ImportFileError as exc:
            context["file_error"] = str(exc)
            status = 400
        except ImportRejected as exc:
            context.update(errors=exc.errors[:200], error_count=len(exc.errors), rejected=True)
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "customers/import.html", context, status=status)


@login_required
def import_error_file(request: HttpRequest, name: str) -> FileResponse:
    require(request, "import_data")
    path = settings.DATA_DIR / "import-errors" / name
    if "/" in name or not path.is_file():
        raise Http404("No such error file.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-errors-{name}")
