"""The CS Ops request pages: the board, a request and the work on it, intake, each lead's weekly
triage list and the list. Thin: each post parses a form and calls one action; the actions enforce
the rules (the transition table, who decides what), so a refusal reads the same here and in the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from csops.core.models import User
from csops.core.tables import Column
from csops.core.views import ObjectListView, add_action_errors, require
from csops.requests import actions, selectors
from csops.requests.actions import CHECKLIST, is_manager
from csops.requests.filtersets import OpsRequestFilterSet
from csops.requests.forms import (
    AssignForm,
    ChecklistForm,
    CommentForm,
    FeedbackForm,
    IntakeForm,
    MoveForm,
    TriageForm,
    WeightForm,
)
from csops.requests.models import OpsRequest, State, Workstream

FEEDBACK_FIELDS = {"resolution_summary", "reviewer"}


def _status(exc: ValidationError) -> int:
    """Who may not do it is a 403; what is wrong with it, a 400."""
    return 403 if "actor" in getattr(exc, "error_dict", {}) else 400


def _next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _request(pk: int) -> OpsRequest:
    return get_object_or_404(OpsRequest.objects.select_related("workstream"), pk=pk)


# --- the board -------------------------------------------------------------------------------------------


@login_required
def board(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    data = request.GET.copy()
    data.setdefault("closed_within", str(selectors.CLOSED_DAYS))
    filterset = OpsRequestFilterSet(data, queryset=selectors.requests())
    valid = filterset.is_valid()
    columns = selectors.board(filterset.qs if valid else OpsRequest.objects.none(), request.user)
    return render(
        request,
        "requests/board.html",
        {
            "title": "CS Ops requests",
            "columns": columns,
            "filter_form": filterset.form,
            "closed_within": data.get("closed_within"),
            "filtered": bool(set(request.GET) - {"closed_within"}) or not valid,
            "here": request.get_full_path(),
            "section": "board",
        },
        status=200 if valid else 400,
    )


# --- a request and the work on it ------------------------------------------------------------------------


def _page_forms(ops: OpsRequest, user: User, **bound: Form) -> dict[str, Form | None]:
    """The forms the viewer may use on this request, each None when it is not theirs to use."""
    closed, work = ops.is_closed, actions.may_work(user, ops)
    moves = [] if closed else actions.moves_for(user, ops)
    triages = ops.state == State.TRIAGE and not closed and selectors.workstreams_triaged_by(user).exists()
    forms: dict[str, Form | None] = {
        "triage_form": TriageForm(request=ops, lead=user) if triages else None,
        "move_form": MoveForm(moves=moves) if moves and ops.state != State.TRIAGE else None,
        "feedback_form": FeedbackForm(request=ops) if State.AWAITING_FEEDBACK in moves else None,
        "checklist_form": (
            ChecklistForm(request=ops, may_review=_may_review(ops, user)) if work and not closed else None
        ),
        "weight_form": WeightForm(initial={"weight": ops.weight}) if work and not closed else None,
        "assign_form": (
            AssignForm(initial={"assignee": ops.assignee_id})
            if not closed and (actions.is_lead(user, ops) or user.pk == ops.assignee_id)
            else None
        ),
        "comment_form": CommentForm() if actions.may_comment(user, ops) else None,
    }
    return forms | bound


def _detail_page(
    request: HttpRequest, pk: int, status: int = 200, problem: str = "", **bound: Form
) -> HttpResponse:
    try:
        ops = selectors.request_page(pk)
    except ObjectDoesNotExist:
        raise Http404("No such CS Ops request.") from None
    context: dict[str, Any] = {
        "ops": ops,
        "title": str(ops),
        "problem": problem,
        "checklist": [(ChecklistForm.base_fields[n].label, getattr(ops, n)) for n in CHECKLIST],
        "missing": actions.checklist_missing(ops),
        "transitions": ops.transitions.all(),
        "comments": ops.comments.all(),
        "labels": [label.name for label in ops.extra_labels.all()],
        "governance": hasattr(ops, "linked_changes"),
        "section": "",
        **_page_forms(ops, request.user, **bound),
    }
    return render(request, "requests/detail.html", context, status=status)


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    return _detail_page(request, pk)


def _form_for_refusal(ops: OpsRequest, to: str, exc: ValidationError, user: User) -> dict[str, Form]:
    """A move to Awaiting Feedback or Completed refused for what a form collects: that form, bound
    to what the request has, with the refusal on the fields it names."""
    fields = set(getattr(exc, "error_dict", {}))
    if to == State.AWAITING_FEEDBACK and fields & FEEDBACK_FIELDS:
        form: Form = FeedbackForm(
            {
                "feedback-resolution_summary": ops.resolution_summary,
                "feedback-reviewer": ops.reviewer_id or "",
            },
            request=ops,
        )
        name = "feedback_form"
    elif to == State.COMPLETED and fields & set(CHECKLIST):
        values = {f"checklist-{n}": getattr(ops, n) for n in CHECKLIST if getattr(ops, n)}
        form = ChecklistForm(values, request=ops, may_review=_may_review(ops, user))
        name = "checklist_form"
    else:
        return {}
    form.is_valid()
    for field, errors in exc.message_dict.items():  # the action's words, not "This field is required."
        if field in form.fields:
            form.errors[field] = form.error_class(errors)
    return {name: form}


@login_required
@require_POST
def move(request: HttpRequest, pk: int) -> HttpResponse:
    """A move from the board (a card's form, or a drop: JSON) or from the request's page."""
    require(request, "view_customers")
    ops = _request(pk)
    form = MoveForm(request.POST, moves=list(State))
    if not form.is_valid():
        exc = ValidationError({"to": form.errors.get("to", ["Choose where to move it."])})
    else:
        to, note = form.cleaned_data["to"], form.cleaned_data["note"]
        try:
            ops = actions.move(ops, to, actor=request.user, note=note)
        except ValidationError as refused:
            exc = refused
        else:
            text = f"{ops} moved to {ops.get_state_display()}."
            if _wants_json(request):
                html = render_to_string(
                    "requests/card.html",
                    {
                        "card": selectors.card(selectors.requests().get(pk=pk), request.user),
                        "here": _next(request, ""),
                    },
                    request=request,
                )
                return JsonResponse({"ok": True, "message": text, "state": ops.state, "card": html})
            messages.success(request, text)
            return redirect(_next(request, ops.get_absolute_url()))
    to = form.cleaned_data.get("to", "") if form.is_valid() else ""
    label = State(to).label if to else "another label"
    text = f"{ops} was not moved to {label}: {' '.join(exc.messages)}"
    bound = _form_for_refusal(ops, to, exc, request.user) if to else {}
    anchor = {"feedback_form": "#feedback", "checklist_form": "#checklist"}.get(next(iter(bound), ""), "")
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": False,
                "message": text,
                "errors": getattr(exc, "message_dict", {"to": exc.messages}),
                "form": f"{ops.get_absolute_url()}{anchor}" if anchor else "",
            },
            status=403 if _status(exc) == 403 else 422,
        )
    if bound:
        return _detail_page(request, pk, status=400, problem=text, **bound)
    messages.error(request, text)
    return redirect(_next(request, ops.get_absolute_url()))


@dataclass(frozen=True)
class Work:
    """One form of the request's page: how it is built from the post, and the action it calls."""

    name: str  # its name in the page's context
    form: Callable[[OpsRequest, User, Any], Form]
    act: Callable[[OpsRequest, User, Form], object]
    done: str


def _may_review(ops: OpsRequest, user: User) -> bool:
    return user.pk == ops.reviewer_id or is_manager(user)


WORK = {
    "triage": Work(
        "triage_form",
        lambda ops, user, data: TriageForm(data, request=ops, lead=user),
        lambda ops, user, form: actions.triage(ops, actor=user, **form.cleaned_data),
        "{ops} triaged.",
    ),
    "feedback": Work(
        "feedback_form",
        lambda ops, user, data: FeedbackForm(data, request=ops),
        lambda ops, user, form: actions.move(ops, State.AWAITING_FEEDBACK, actor=user, **form.cleaned_data),
        "{ops} is Awaiting Feedback: tell the reviewer it is ready.",
    ),
    "checklist": Work(
        "checklist_form",
        lambda ops, user, data: ChecklistForm(data, request=ops, may_review=_may_review(ops, user)),
        lambda ops, user, form: actions.update_checklist(ops, actor=user, **form.changes(ops)),
        "Closing checklist saved.",
    ),
    "weight": Work(
        "weight_form",
        lambda ops, user, data: WeightForm(data),
        lambda ops, user, form: actions.set_weight(ops, form.cleaned_data["weight"], actor=user),
        "Weight saved.",
    ),
    "assign": Work(
        "assign_form",
        lambda ops, user, data: AssignForm(data),
        lambda ops, user, form: actions.assign(ops, form.cleaned_data["assignee"], actor=user),
        "Assignee saved.",
    ),
    "comment": Work(
        "comment_form",
        lambda ops, user, data: CommentForm(data),
        lambda ops, user, form: actions.add_comment(ops, actor=user, body=form.cleaned_data["body"]),
        "Comment added.",
    ),
}


@login_required
@require_POST
def work(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """A form of the request's page, handed to its action; a refusal comes back on the page with
    the form and what was typed, nothing written (a 403 when it is not the user's to do)."""
    require(request, "view_customers")
    ops, user, kind = _request(pk), request.user, WORK[verb]
    form = kind.form(ops, user, request.POST)
    if form.is_valid():
        try:
            kind.act(ops, user, form)
        except ValidationError as exc:
            add_action_errors(form, exc)
            return _detail_page(request, pk, status=_status(exc), **{kind.name: form})
        messages.success(request, kind.done.format(ops=ops))
        return redirect("requests:detail", pk=pk)
    return _detail_page(request, pk, status=400, **{kind.name: form})


# --- intake ----------------------------------------------------------------------------------------------


@login_required
def new(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    form = IntakeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            filed = actions.file_request(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_action_errors(form, exc)
        else:
            who = (
                f"the lead of {filed.workstream} reviews it"
                if filed.workstream
                else "the workstream leads review new requests"
            )
            messages.success(request, f"Request {filed} filed: {who} at the weekly triage.")
            return redirect(filed)
    status = 400 if form.is_bound else 200
    return render(
        request,
        "requests/new.html",
        {"form": form, "title": "New CS Ops request", "section": "new"},
        status=status,
    )


# --- the weekly triage list and the list -----------------------------------------------------------------


@login_required
def triage_list(request: HttpRequest) -> HttpResponse:
    """A lead's weekly review: new requests, Need_More_Info gone stale, Blocked. An admin chooses
    the lead, and without one (or leading nothing) sees every workstream."""
    require(request, "view_customers")
    user, lead = request.user, request.user
    admin = is_manager(user)
    if admin and (username := request.GET.get("lead")):
        lead = selectors.leads().filter(username=username).first()
        if lead is None:
            raise Http404(f"{username!r} leads no workstream.")
    workstreams = list(Workstream.objects.filter(lead=lead).order_by("name"))
    if admin and not workstreams and lead == user:
        workstreams = list(Workstream.objects.order_by("name"))
    return render(
        request,
        "requests/triage.html",
        {
            "lists": selectors.triage_list(workstreams),
            "lead": lead,
            "leads": selectors.leads() if admin else None,
            "can_triage": bool(workstreams) and (admin or lead == user),
            "title": "Weekly triage",
            "section": "triage",
        },
    )


def _day(value) -> str:
    return f"{value:%Y-%m-%d}"


class RequestListView(ObjectListView):
    queryset = selectors.requests()
    filterset_class = OpsRequestFilterSet
    permission = "view_customers"
    title = "CS Ops requests"
    export_name = "cs-ops-requests"
    default_sort = "-id"
    header_template = "requests/nav.html"
    add_url_name = "requests:new"
    add_permission = "view_customers"
    columns = [
        Column("pk", "#", sort="id", link=True, numeric=True),
        Column("title", "Title", sort="title", link=True),
        Column("get_state_display", "Workflow label", sort="state"),
        Column("workstream.name", "Workstream", sort="workstream__name"),
        Column("assignee", "Assignee", sort="assignee__first_name"),
        Column("weight", "Weight", sort="weight", numeric=True),
        Column("due_date", "Due", sort="due_date", display=_day),
        Column("team_label", "Team label", sort="team_label"),
        Column("requester_label", "Requester label", sort="requester_label"),
        Column("interrupt", "Interrupt", display=lambda v: "Interrupt" if v else ""),
        Column("requester", "Requester"),
        Column("created_at", "Filed", sort="created_at", display=_day),
        Column("state_changed_at", "In its label since", sort="state_changed_at", display=_day),
    ]

    def extra_context(self, request: HttpRequest, objects) -> dict[str, Any]:
        return {"section": "list"}
