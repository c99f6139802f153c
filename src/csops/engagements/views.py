"""The CSE engagement pages: "CSE Help" (filing), a request and the work on it, the list and the CSE
dashboard. Thin: each post parses a form and calls one action; the actions enforce the rules."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core.models import User
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, require
from csops.customers.models import Account
from csops.engagements import actions, selectors
from csops.engagements.filtersets import RequestFilterSet
from csops.engagements.forms import CallForm, FollowUpForm, QuestionForm, RequestForm
from csops.engagements.models import NAME_SUFFIX, EngagementRequest, FollowUp, Intervention, RequestStatus

BATCH_NOTE = (
    "The CTA for the CSE is raised by the next batch, which runs every 4 hours from 00:30 "
    "(00:30, 04:30, 08:30, 12:30, 16:30, 20:30 Pacific)."
)

# The actions' (and the timeline's) names for what the forms call otherwise.
ALIASES = {"external_attendees": "attendees"}


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def add_errors(form: Form, exc: ValidationError) -> None:
    """An action's refusal onto the form: by field where the form has it, above the form otherwise,
    so each message stays next to what it is about."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        name = ALIASES.get(name, name)
        form.add_error(name if name in form.fields else None, errors)


# --- CSE Help: filing -----------------------------------------------------------------------------------


@login_required
def request_new(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    account = Account.objects.select_related("csm", "ae", "renewals_manager").filter(
        pk=_number(request.GET.get("account"))
    ).first()
    if account is None:
        raise Http404("Open CSE Help from an account page: no such account.")
    try:
        rules = actions.policy()
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from None
    found = selectors.filing_conditions(account, request.user, rules)
    opportunity = account.opportunities.filter(pk=_number(request.GET.get("opportunity"))).first()
    if request.method == "POST":
        if not found.is_owner:
            return _form_page(request, account, found, None, opportunity, status=403)
        form = RequestForm(request.POST, account=account, needs_approver=found.needs_approver)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                filed = actions.file_request(account, actor=request.user, source="web", **data)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Request #{filed.pk} filed. {BATCH_NOTE}")
                return redirect(filed)
        return _form_page(request, account, found, form, opportunity, status=400)
    form = (
        RequestForm(
            account=account,
            needs_approver=found.needs_approver,
            initial={"opportunity": opportunity, "contact": account.contacts.order_by("pk").first()},
        )
        if found.can_file
        else None
    )
    return _form_page(request, account, found, form, opportunity)


def _form_page(request, account, found, form, opportunity, status: int = 200) -> HttpResponse:
    return render(
        request,
        "engagements/request_form.html",
        {
            "account": account,
            "eligibility": found,
            "form": form,
            "opportunity": opportunity,
            "batch_note": BATCH_NOTE,
            "title": f"CSE Help for {account}",
        },
        status=status,
    )


# --- a request and the work on it -------------------------------------------------------------------------


def _page_forms(engagement: EngagementRequest, **bound: Form) -> dict[str, Form]:
    account = engagement.account
    today = actions.business_today()
    forms = {
        "call_form": CallForm(account=account, initial={"date": today}),
        "follow_up_form": FollowUpForm(
            account=account,
            initial={"contacts": [engagement.contact_id], "deploy_survey": True},
        ),
        "question_form": QuestionForm(initial={"asked_on": today}),
    }
    return forms | bound


def _request_page(request: HttpRequest, pk: int, status: int = 200, **bound: Form) -> HttpResponse:
    try:
        engagement = selectors.request_page(pk)
    except ObjectDoesNotExist:
        raise Http404("No such engagement request.") from None
    can_work = has_perm(request.user, "work_ctas")
    context: dict[str, Any] = {
        "engagement": engagement,
        "account": engagement.account,
        "follow_ups": selectors.follow_up_rows(engagement),
        "continued_by": list(engagement.continued_by.order_by("pk")),
        "interventions": _labels(engagement.interventions),
        "can_work": can_work,
        "closed": engagement.status == RequestStatus.CLOSED,
        "batch_note": BATCH_NOTE,
        "name_suffix": NAME_SUFFIX,
        "suffix_missing": engagement.cta is not None and not engagement.cta.name.endswith(NAME_SUFFIX),
        "title": f"Engagement request #{engagement.pk}",
    }
    if can_work:
        context |= _page_forms(engagement, **bound)
    return render(request, "engagements/request_detail.html", context, status=status)


def _labels(values: list[str]) -> list[str]:
    names = dict(Intervention.choices)
    return [names.get(v, v) for v in values]


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    return _request_page(request, pk)


def _engagement(pk: int) -> EngagementRequest:
    return get_object_or_404(EngagementRequest.objects.select_related("account", "cta__account"), pk=pk)


@login_required
@require_POST
def log_call(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    engagement = _engagement(pk)
    form = CallForm(request.POST, account=engagement.account)
    if form.is_valid():
        try:
            actions.log_call(
                engagement,
                actor=request.user,
                date=form.cleaned_data["date"],
                notes=form.cleaned_data["notes"],
                attendees=list(form.cleaned_data["attendees"]),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            engagement.refresh_from_db()
            due = engagement.follow_ups.filter(done_at__isnull=True).order_by("due_on").first()
            messages.success(
                request,
                "Call logged on the timeline as a CSE Engagement activity."
                + (f" The follow-up email is due by {due.due_on:%a %d %b %Y}." if due else ""),
            )
            return redirect(engagement)
    return _request_page(request, pk, status=400, call_form=form)


@login_required
@require_POST
def send_follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    engagement = _engagement(pk)
    form = FollowUpForm(request.POST, account=engagement.account)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = actions.send_follow_up(
                engagement,
                actor=request.user,
                contacts=list(data["contacts"]),
                summary=data["summary"],
                action_items=data["action_items"],
                resources=data["resources"],
                deploy_survey=data["deploy_survey"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            (messages.success if result.queued else messages.warning)(request, str(result))
            return redirect(engagement)
    return _request_page(request, pk, status=400, follow_up_form=form)


@login_required
@require_POST
def record_question(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    engagement = _engagement(pk)
    form = QuestionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            outcome = actions.record_question(
                engagement,
                actor=request.user,
                asked_on=data["asked_on"],
                question=data["question"],
                topic=data["topic"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            if isinstance(outcome, EngagementRequest):
                messages.info(
                    request,
                    f"A new topic, or more than 4 weeks since the last contact: the question opened "
                    f"request #{outcome.pk}, continuing #{engagement.pk}. {BATCH_NOTE}",
                )
                return redirect(outcome)
            messages.success(
                request, f"Question recorded: the answer is due by {outcome.due_on:%a %d %b %Y}."
            )
            return redirect(engagement)
    return _request_page(request, pk, status=400, question_form=form)


@login_required
@require_POST
def answer_question(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    follow_up = get_object_or_404(FollowUp.objects.select_related("request"), pk=pk)
    try:
        actions.answer_question(follow_up, actor=request.user)
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    else:
        messages.success(request, "Marked answered.")
    return redirect(follow_up.request)


@login_required
@require_POST
def close_request(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    engagement = _engagement(pk)
    actions.close_request(engagement, actor=request.user)
    messages.success(request, f"Request #{engagement.pk} closed.")
    return redirect(engagement)


@login_required
@require_POST
def reopen_request(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    engagement = _engagement(pk)
    try:
        actions.reopen_request(engagement, actor=request.user)
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    else:
        messages.success(request, f"Request #{engagement.pk} reopened.")
    return redirect(engagement)


# --- the list and the dashboard ---------------------------------------------------------------------------


def _day(value) -> str:
    return f"{value:%Y-%m-%d}"


class RequestListView(ObjectListView):
    queryset = selectors.requests()
    filterset_class = RequestFilterSet
    title = "Engagement requests"
    export_name = "engagement-requests"
    default_sort = "-id"
    header_template = "engagements/request_list_header.html"
    columns = [
        Column("pk", "#", sort="id", link=True, numeric=True),
        Column("topic", "Topic", sort="topic", link=True),
        Column("account.name", "Account", sort="account__name"),
        Column("get_status_display", "Status", sort="status"),
        Column("cse", "CSE", sort="cse__username"),
        Column("get_priority_display", "Priority", sort="priority"),
        Column("filed_by", "Filed by"),
        Column("filed_at", "Filed", sort="filed_at", display=_day),
        Column("cta.name", "CTA"),
        Column("called_on", "Call", sort="called_on", display=_day),
        Column("next_due", "Next follow-up due", sort="next_due", display=_day),
    ]



@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    cse = None
    if username := request.GET.get("cse"):
        cse = User.objects.filter(username=username, is_pool=False).first()
    try:
        board = selectors.dashboard(cse)
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from None
    bar_width = 360
    chart = [
        (label, n, round(bar_width * n / board.max_status) if board.max_status else 0, 24 * i)
        for i, (_, label, n) in enumerate(board.by_status)
    ]
    return render(
        request,
        "engagements/dashboard.html",
        {
            "board": board,
            "cse": cse,
            "cses": User.objects.filter(
                pk__in=EngagementRequest.objects.filter(cse__isnull=False).values("cse_id")
            ).order_by("first_name", "last_name", "username"),
            "chart": chart,
            "chart_height": 24 * len(chart),
            "name_suffix": NAME_SUFFIX,
            "title": "CSE dashboard",
        },
    )
