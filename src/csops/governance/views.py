"""Governance pages: the configuration (each object with its versions), change requests with their
diffs, impact and reviews, and the changelog. Thin: each post calls one action."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from csops.core.configuration import ConfigKind
from csops.core.models import ConfigVersion
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, add_action_errors, require
from csops.governance import actions, selectors, tasks
from csops.governance.filtersets import ChangeFilterSet, ChangelogFilterSet
from csops.governance.forms import DefinitionForm, ProposalForm, ReviewForm, ReviseForm
from csops.governance.models import ChangeRequest, Status, Verdict


def to_yaml(data: dict | None, *, position: bool = True) -> str:
    if data is None:
        return ""
    shown = {k: v for k, v in data.items() if position or k != "position"}
    return yaml.safe_dump(shown, sort_keys=False, allow_unicode=True, width=100)


def diff_lines(before: dict | None, after: dict | None) -> list[tuple[str, str]]:
    """A unified diff of the two YAML documents, as (class, line) for the template."""
    lines = difflib.unified_diff(to_yaml(before).splitlines(), to_yaml(after).splitlines(), lineterm="", n=3)
    kinds = {"+": "added", "-": "removed", "@": "hunk"}
    return [(kinds.get(line[:1], ""), line) for line in list(lines)[2:]]


def _kind(name: str) -> ConfigKind:
    kind = selectors.config_kind(name)
    if kind is None:
        raise Http404(f"No configuration kind {name!r}.")
    return kind


def _key(request: HttpRequest) -> str:
    key = request.GET.get("key", "")
    if not key:
        raise Http404("Name the object: ?key=…")
    return key


def object_url(kind: str, key: str, view: str = "governance:object") -> str:
    from urllib.parse import urlencode

    return f"{reverse(view, args=[kind])}?{urlencode({'key': key})}"


# --- the configuration --------------------------------------------------------------------------


@login_required
def config_index(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    kinds = selectors.kinds()
    levels = actions.review_levels(k.name for k in kinds)
    rows = [
        (kind.name, kind.model._meta.verbose_name_plural, kind.model.objects.count(), levels[kind.name])
        for kind in kinds
    ]
    return render(request, "governance/config_index.html", {"rows": rows, "title": "Configuration"})


@login_required
def config_kind(request: HttpRequest, kind: str) -> HttpResponse:
    require(request, "view_customers")
    config = _kind(kind)
    objects = [(key, data.get("description", "")) for key, data in selectors.objects_of(config)]
    return render(
        request,
        "governance/config_kind.html",
        {
            "kind": config,
            "objects": objects,
            "review": actions.review_level(kind),
            "can_propose": has_perm(request.user, "manage_config"),
            "title": f"Configuration: {kind}",
        },
    )


@login_required
def config_object(request: HttpRequest, kind: str) -> HttpResponse:
    require(request, "view_customers")
    config, key = _kind(kind), _key(request)
    current = selectors.current(config, key)
    versions = list(selectors.versions(kind, key))
    if current is None and not versions:
        raise Http404(f"No {kind} {key!r}.")
    history = [
        (v, diff_lines(versions[i + 1].data if i + 1 < len(versions) else None, v.data))
        for i, v in enumerate(versions)
    ]
    return render(
        request,
        "governance/config_object.html",
        {
            "kind": config,
            "key": key,
            "current": to_yaml(current),
            "exists": current is not None,
            "history": history,
            "open_changes": selectors.open_changes_for(kind, key),
            "review": actions.review_level(kind),
            "can_propose": has_perm(request.user, "manage_config"),
            "edit_url": object_url(kind, key, "governance:propose_edit"),
            "remove_url": object_url(kind, key, "governance:propose_removal"),
            "restore_url": object_url(kind, key, "governance:propose_restore"),
            "title": f"{kind}: {key}",
        },
    )


def _propose(request: HttpRequest, form: ProposalForm, diffs_of) -> HttpResponse | None:
    """Validate the form, build the diffs and open the change request; None when refused."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        change = actions.propose(
            diffs_of(data),
            author=request.user,
            title=data["title"],
            why=data["why"],
            ops_request=data["ops_request"],
            ask_review=data["ask_review"],
            source="web",
        )
    except ValidationError as exc:
        add_action_errors(form, exc)
        return None
    if change.status == Status.APPLIED:
        messages.success(request, f"Applied !{change.number}: review is optional for this kind.")
    else:
        messages.success(request, f"Change request !{change.number} opened: another CS Ops admin reviews it.")
    return redirect(change)


def _proposal_page(request, template: str, form, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, {"form": form, **context}, status=status)


@login_required
def propose_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """Edit an object (?key=) or add one (no key), as YAML."""
    require(request, "manage_config")
    config = _kind(kind)
    key = request.GET.get("key") or None
    current = selectors.current(config, key) if key else None
    if key and current is None:
        raise Http404(f"No {kind} {key!r}: it may have been removed.")
    verb = "Change" if key else "Add"
    context = {
        "kind": config,
        "key": key,
        "review": actions.review_level(kind),
        "title": f"{verb} {kind}{': ' + key if key else ''}",
    }
    if request.method == "POST":
        form = DefinitionForm(request.POST)
        done = _propose(request, form, lambda d: [actions.parse_object(kind, d["definition"], key=key)])
        return done or _proposal_page(request, "governance/propose.html", form, 400, **context)
    example = (
        to_yaml(current, position=False)
        if current
        else yaml.safe_dump(
            {config.key: "", **dict.fromkeys(config.fields), **{child: [] for child in config.children}},
            sort_keys=False,
        )
    )
    title = f"{verb} {kind} {key!r}" if key else f"Add a {kind} object"
    form = DefinitionForm(initial={"definition": example, "title": title[:200]})
    return _proposal_page(request, "governance/propose.html", form, **context)


@login_required
def propose_removal(request: HttpRequest, kind: str) -> HttpResponse:
    require(request, "manage_config")
    config, key = _kind(kind), _key(request)
    current = selectors.current(config, key)
    if current is None:
        raise Http404(f"No {kind} {key!r}.")
    context = {
        "kind": config,
        "key": key,
        "review": actions.review_level(kind),
        "verb": "remove",
        "diff": diff_lines(current, None),
        "title": f"Remove {kind}: {key}",
    }
    if request.method == "POST":
        form = ProposalForm(request.POST)
        done = _propose(request, form, lambda d: [actions.object_diff(kind, key, None)])
        return done or _proposal_page(request, "governance/propose_fixed.html", form, 400, **context)
    form = ProposalForm(initial={"title": f"Remove {kind} {key!r}"[:200]})
    return _proposal_page(request, "governance/propose_fixed.html", form, **context)


@login_required
def propose_restore(request: HttpRequest, kind: str) -> HttpResponse:
    require(request, "manage_config")
    _kind(kind)
    key = _key(request)
    version = get_object_or_404(ConfigVersion, kind=kind, key=key, version=request.GET.get("version") or 0)
    diff = actions.restore_diff(version)
    context = {
        "kind": selectors.config_kind(kind),
        "key": key,
        "review": actions.review_level(kind),
        "verb": f"restore to version {version.version}",
        "version": version,
        "diff": diff_lines(diff.before, diff.after),
        "title": f"Restore {kind}: {key}",
    }
    if request.method == "POST":
        form = ProposalForm(request.POST)
        done = _propose(request, form, lambda d: [actions.restore_diff(version)])
        return done or _proposal_page(request, "governance/propose_fixed.html", form, 400, **context)
    form = ProposalForm(initial={"title": f"Restore {kind} {key!r} to version {version.version}"[:200]})
    return _proposal_page(request, "governance/propose_fixed.html", form, **context)


# --- change requests ----------------------------------------------------------------------------


def _day(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


class ChangeListView(ObjectListView):
    queryset = selectors.change_requests()
    filterset_class = ChangeFilterSet
    title = "Configuration change requests"
    export_name = "change-requests"
    default_sort = "-number"
    header_template = "governance/changes_header.html"
    columns = [
        Column("number", "!", sort="number", link=True, numeric=True),
        Column("title", "What", sort="title", link=True),
        Column("get_status_display", "Status", sort="status"),
        Column("author", "Author", sort="author__username"),
        Column("objects_text", "Objects"),
        Column("approvers_text", "Approved by"),
        Column("created_at", "Opened", sort="created_at", display=_day),
        Column("applied_at", "Applied", sort="applied_at", display=_day),
    ]


class ChangelogView(ChangeListView):
    """Every applied change: what, why, author, reviewers, the request; CSV or Markdown export."""

    queryset = selectors.changelog()
    filterset_class = ChangelogFilterSet
    title = "Changelog"
    export_name = "changelog"
    default_sort = "-applied_at"
    header_template = "governance/changelog_header.html"
    columns = [
        Column("applied_at", "Applied", sort="applied_at", display=_day),
        Column("number", "!", sort="number", link=True, numeric=True),
        Column("title", "What", sort="title", link=True),
        Column("objects_text", "Objects"),
        Column("why", "Why"),
        Column("author", "Author", sort="author__username"),
        Column("approvers_text", "Reviewed by", display=lambda names: names or "not required"),
        Column("ops_request", "Request"),
    ]

    def export_as(self, fmt: str, objects) -> HttpResponse:
        if fmt != "md":
            return super().export_as(fmt, objects)
        text = render(self.request, "governance/changelog.md", {"entries": objects}).content
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="changelog.md"'
        return response


def _change(number: int) -> ChangeRequest:
    return get_object_or_404(selectors.change_requests(), number=number)


def _impact_rows(change: ChangeRequest) -> list[dict]:
    rows = []
    for rule, counts in (change.impact or {}).items():
        current, proposed = counts.get("current") or {}, counts.get("proposed") or {}
        names = sorted({*current.get("actions", {}), *proposed.get("actions", {})})
        rows.append(
            {
                "rule": rule,
                "error": current.get("error") or proposed.get("error"),
                "audience": (current.get("audience"), proposed.get("audience")),
                "actions": [
                    (n, current.get("actions", {}).get(n), proposed.get("actions", {}).get(n)) for n in names
                ],
                "removed": counts.get("proposed") is None,
                "added": counts.get("current") is None,
            }
        )
    return rows


def _detail(request: HttpRequest, change: ChangeRequest, review_form=None, status: int = 200) -> HttpResponse:
    user = request.user
    is_admin = has_perm(user, "manage_config")
    items = [(item, diff_lines(item.before, item.after)) for item in change.items.all()]
    return render(
        request,
        "governance/change_detail.html",
        {
            "change": change,
            "items": items,
            "reviews": change.reviews.all(),
            "has_rules": any(i.kind == "rules" for i, _ in items),
            "impact": _impact_rows(change),
            "can_review": is_admin and change.is_open and user != change.author,
            "can_comment": is_admin or user == change.author,
            "can_revise": change.is_open and user == change.author,
            "can_apply": is_admin
            and change.is_open
            and not actions.needs_review(i.kind for i, _ in items),
            "review_form": review_form
            or ReviewForm(initial={"verdict": Verdict.COMMENT if not is_admin else None}),
            "title": f"Change request !{change.number}",
        },
        status=status,
    )


@login_required
def change_detail(request: HttpRequest, number: int) -> HttpResponse:
    require(request, "view_customers")
    return _detail(request, _change(number))


@login_required
@require_POST
def change_review(request: HttpRequest, number: int) -> HttpResponse:
    require(request, "view_customers")
    change = _change(number)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            actions.review(
                change,
                reviewer=request.user,
                verdict=form.cleaned_data["verdict"],
                body=form.cleaned_data["body"],
            )
        except ValidationError as exc:
            add_action_errors(form, exc)
        else:
            change.refresh_from_db()
            messages.success(request, f"!{change.number}: {change.get_status_display()}.")
            return redirect(change)
    return _detail(request, _change(number), review_form=form, status=400)


def _post_action(request: HttpRequest, number: int, act, done: str) -> HttpResponse:
    change = _change(number)
    try:
        act(change)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(change)
    messages.success(request, done.format(number=number))
    return redirect(change)


@login_required
@require_POST
def change_apply(request: HttpRequest, number: int) -> HttpResponse:
    require(request, "manage_config")
    return _post_action(
        request, number, lambda c: actions.apply_change(c, actor=request.user), "Applied !{number}."
    )


@login_required
@require_POST
def change_withdraw(request: HttpRequest, number: int) -> HttpResponse:
    require(request, "view_customers")
    return _post_action(
        request, number, lambda c: actions.withdraw(c, actor=request.user), "Withdrew !{number}."
    )


@login_required
@require_POST
def change_impact(request: HttpRequest, number: int) -> HttpResponse:
    require(request, "manage_config")
    change = _change(number)
    tasks.preview_impact.enqueue(change.number)
    messages.success(request, "The impact preview is queued for the worker: reload in a few seconds.")
    return redirect(change)


@login_required
def change_revise(request: HttpRequest, number: int) -> HttpResponse:
    require(request, "manage_config")
    change = _change(number)
    items = list(change.items.all())
    if request.method == "POST":
        form = ReviseForm(request.POST, items=items)
        if form.is_valid():
            try:
                diffs = [
                    actions.parse_object(i.kind, text, key=i.key)
                    if text.strip()
                    else actions.object_diff(i.kind, i.key, None)
                    for i in items
                    for text in [form.cleaned_data[f"item_{i.pk}"]]
                ]
                actions.revise(change, diffs, author=request.user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                add_action_errors(form, exc)
            else:
                messages.success(request, f"Revised !{change.number}: it waits for review again.")
                return redirect(change)
        return render(request, "governance/revise.html", {"form": form, "change": change}, status=400)
    initial = {f"item_{i.pk}": to_yaml(i.after, position=False) for i in items}
    return render(
        request,
        "governance/revise.html",
        {
            "form": ReviseForm(items=items, initial=initial),
            "change": change,
            "title": f"Revise !{change.number}",
        },
    )
