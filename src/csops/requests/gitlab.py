"""An optional mirror of CS Ops requests with the issues of a GitLab project, through its REST API
(python-gitlab). Configured by CSOPS_GITLAB_URL, CSOPS_GITLAB_TOKEN and CSOPS_GITLAB_PROJECT.

One request is one issue: title, description, the workflow label as a scoped label
(`workflow::In_Process`, one at a time, as seed 000's `CSOps::` labels), the team labels (`CSOps` and
the request's team), the requester label (`CSOps - Scale`), `CSOps - Interrupt`, weight, assignee
(by username), due date, milestone (by title), and closed once Won't Do or Completed.

A sync first pulls, then pushes:
- pull: an issue created in GitLab becomes a request in Triage; an issue relabelled in GitLab moves
  its request, through the workflow's own rules; a move the workflow refuses is reported, not
  applied, and the push puts the issue's label back;
- push: a request without an issue gets one; a request whose mirrored fields changed since the last
  push updates its issue (only the labels csops manages are added or removed; others stay).
Each link keeps the issue's updated_at as last seen and a fingerprint of the last push, so a
second sync with nothing new changes nothing on either side. An issue made by a push carries a
hidden marker with its request's number, so one made just before a crash is linked, not re-filed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from csops.core.actions import create_object, update_object
from csops.core.calendar import business_today
from csops.core.models import Role, User
from csops.requests import actions
from csops.requests.models import (
    CLOSED_STATES,
    INTERRUPT_LABEL,
    GitLabLink,
    OpsRequest,
    RequesterLabel,
    State,
    TeamLabel,
)

SOURCE = "gitlab"
REQUESTER_PREFIX = "CSOps - "
MARKER = re.compile(r"\n*<!-- csops:request:(\d+) -->\s*$")


class GitLabSyncError(Exception):
    """The sync cannot run (not configured, unreachable, refused token, unknown project): one line."""


def configured() -> bool:
    return bool(settings.CSOPS_GITLAB_URL and settings.CSOPS_GITLAB_TOKEN and settings.CSOPS_GITLAB_PROJECT)


# --- labels -----------------------------------------------------------------------------------------


def _scope() -> str:
    return settings.CSOPS_GITLAB_WORKFLOW_SCOPE


def workflow_label(state: str) -> str:
    return f"{_scope()}::{State(state).label}"


def _normal(text: str) -> str:
    return re.sub(r"[\s_-]+", "_", text.replace("\u2019", "'").strip().lower())


STATE_BY_NAME = {_normal(s.label): s for s in State} | {_normal(s.value): s for s in State}


def state_of(labels: list[str]) -> tuple[State | None, str | None]:
    """The workflow state an issue's labels say, with the label; (None, None) without one; an
    unknown `workflow::` value is (None, the label)."""
    prefix = f"{_normal(_scope())}::"
    for label in labels:
        if _normal(label).startswith(prefix):
            return STATE_BY_NAME.get(_normal(label)[len(prefix):]), label
    return None, None


def requester_label(value: str) -> str:
    return f"{REQUESTER_PREFIX}{value}"


REQUESTER_BY_LABEL = {requester_label(v): v for v in RequesterLabel.values}


def labels_for(request: OpsRequest) -> list[str]:
    labels = {TeamLabel.CSOPS.value, request.team_label, workflow_label(request.state)}
    if request.requester_label:
        labels.add(requester_label(request.requester_label))
    if request.interrupt:
        labels.add(INTERRUPT_LABEL)
    labels.update(label.name for label in request.extra_labels.all())
    return sorted(labels)


def _managed(label: str) -> bool:
    """Labels csops owns on an issue: another value of them there is csops's to remove."""
    return (
        _normal(label).startswith(f"{_normal(_scope())}::")
        or label in TeamLabel.values
        or label in REQUESTER_BY_LABEL
        or label == INTERRUPT_LABEL
    )


# --- the issue a request should be ---------------------------------------------------------------


def desired(request: OpsRequest) -> dict[str, Any]:
    """The issue's fields as csops has them. Unset weight, assignee, due date and milestone are
    left out: they stay as they are in GitLab."""
    wanted: dict[str, Any] = {
        "title": request.title,
        "description": f"{request.description}\n\n<!-- csops:request:{request.pk} -->",
        "labels": labels_for(request),
        "closed": request.state in CLOSED_STATES,
    }
    if request.weight is not None:
        wanted["weight"] = request.weight
    if request.assignee_id is not None:
        wanted["assignee"] = request.assignee.username
    if request.due_date is not None:
        wanted["due_date"] = request.due_date.isoformat()
    if request.milestone_id is not None:
        wanted["milestone"] = request.milestone.title
    return wanted


def fingerprint(wanted: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def _when(value: str) -> dt.datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise GitLabSyncError(f"GitLab sent an updated_at that is not a date: {value!r}")
    return parsed


# --- the report --------------------------------------------------------------------------------------


@dataclass
class SyncReport:
    dry_run: bool = False
    created: list[str] = field(default_factory=list)  # issues made for requests
    updated: list[str] = field(default_factory=list)  # issues updated from requests
    filed: list[str] = field(default_factory=list)  # requests filed from new issues
    moved: list[str] = field(default_factory=list)  # requests moved by a relabelled issue
    refused: list[str] = field(default_factory=list)  # moves the workflow refused
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.filed or self.moved)

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        parts = [
            f"{len(self.created)} issue(s) {would}created",
            f"{len(self.updated)} {would}updated",
            f"{len(self.filed)} request(s) {would}filed from GitLab",
            f"{len(self.moved)} {would}moved",
            f"{len(self.refused)} move(s) refused",
        ]
        return ("Dry run: " if self.dry_run else "") + ", ".join(parts) + "."

    def lines(self) -> list[str]:
        return [*self.filed, *self.moved, *self.refused, *self.created, *self.updated, *self.notes]


class _Rollback(Exception):
    """Undoes a dry run's writes once they have been validated by the real actions."""


# --- the sync ----------------------------------------------------------------------------------------


def connect():
    """The project, after checking the token: every refusal is a GitLabSyncError saying what to fix."""
    import gitlab
    import requests

    if not configured():
        raise GitLabSyncError(
            "GitLab sync is not configured: set CSOPS_GITLAB_URL, CSOPS_GITLAB_TOKEN and "
            "CSOPS_GITLAB_PROJECT."
        )
    url, project = settings.CSOPS_GITLAB_URL, settings.CSOPS_GITLAB_PROJECT
    client = gitlab.Gitlab(url, private_token=settings.CSOPS_GITLAB_TOKEN, timeout=30)
    try:
        client.auth()
        return client, client.projects.get(project)
    except gitlab.exceptions.GitlabAuthenticationError as exc:
        raise GitLabSyncError(
            f"GitLab at {url} refused the token ({exc.response_code}): check CSOPS_GITLAB_TOKEN "
            "(a personal, group or project access token with the api scope)."
        ) from exc
    except gitlab.exceptions.GitlabGetError as exc:
        raise GitLabSyncError(
            f"GitLab at {url} has no project {project!r} this token can see ({exc.response_code}): "
            "check CSOPS_GITLAB_PROJECT (its id or path, e.g. group/cs-ops)."
        ) from exc
    except (gitlab.exceptions.GitlabError, requests.RequestException) as exc:
        raise GitLabSyncError(f"GitLab at {url} cannot be reached: {exc}") from exc


def sync(*, dry_run: bool = False) -> SyncReport:
    """Pull, then push; see the module's description. Raises GitLabSyncError when it cannot run."""
    import gitlab
    import requests

    client, project = connect()
    try:
        return _Sync(client, project, dry_run=dry_run).run()
    except (gitlab.exceptions.GitlabError, requests.RequestException) as exc:
        raise GitLabSyncError(f"GitLab at {settings.CSOPS_GITLAB_URL} failed mid-sync: {exc}") from exc


class _Sync:
    def __init__(self, client, project, *, dry_run: bool):
        self.client, self.project = client, project
        self.key = str(settings.CSOPS_GITLAB_PROJECT)
        self.report = SyncReport(dry_run=dry_run)
        self.issues: dict[int, dict[str, Any]] = {}
        self.repush: set[int] = set()  # requests whose issue must be set back (a refused move)
        self._user_ids: dict[str, int | None] = {}
        self._milestone_ids: dict[str, int | None] = {}

    def run(self) -> SyncReport:
        for issue in self.project.issues.list(get_all=True, state="all", order_by="created_at", sort="asc"):
            self.issues[issue.iid] = issue.attributes
        links = GitLabLink.objects.filter(project=self.key).select_related("request")
        links = {link.iid: link for link in links}
        for iid, issue in self.issues.items():
            link = links.get(iid)
            if link is None:
                self._pull_new(issue)
            elif _when(issue["updated_at"]) > link.issue_updated_at:
                self._pull_change(link, issue)
        self._push()
        return self.report

    # -- pull --

    def _write(self, work) -> Any:
        """Run `work` in its own transaction; in a dry run, validated by the real actions, then undone."""
        try:
            with transaction.atomic():
                result = work()
                if self.report.dry_run:
                    raise _Rollback
                return result
        except _Rollback:
            return None

    def _pull_new(self, issue: dict[str, Any]) -> None:
        iid, marker = issue["iid"], MARKER.search(issue.get("description") or "")
        if marker is not None:  # made by a push whose link was not saved (a crash): link it, file nothing
            request = OpsRequest.objects.filter(pk=int(marker.group(1))).first()
            if request is not None and not GitLabLink.objects.filter(request=request).exists():
                self._write(lambda: self._link(request, issue, pushed=""))
                self.report.notes.append(f"Issue #{iid} was made for request #{request.pk}: linked to it.")
                self.repush.add(request.pk)
            return
        if issue["state"] == "closed":
            return  # closed before csops saw it: nothing to work on
        labels = issue.get("labels") or []
        teams = [label for label in labels if label in TeamLabel.values and label != TeamLabel.CSOPS]
        requester = next((REQUESTER_BY_LABEL[label] for label in labels if label in REQUESTER_BY_LABEL), "")
        author = (issue.get("author") or {}).get("username", "")
        people = User.objects.filter(is_active=True, is_pool=False)
        actor = people.filter(username=author).first() if author else None
        actor = actor or people.filter(role=Role.ADMIN).order_by("pk").first()
        if actor is None:
            self.report.refused.append(f"Issue #{iid}: no csops user to file it as (no admin).")
            return
        due = dt.date.fromisoformat(issue["due_date"]) if issue.get("due_date") else None
        if due is not None and due < business_today():
            due = None

        def file() -> OpsRequest:
            request = actions.file_request(
                actor=actor, title=issue["title"][: actions.TITLE_MAX],
                description=(issue.get("description") or "").strip() or issue["title"],
                requester_label=requester, team_label=teams[0] if teams else TeamLabel.CSOPS,
                due_date=due, source=SOURCE,
            )
            self._link(request, issue, pushed="")
            return request

        try:
            request = self._write(file)
        except ValidationError as exc:
            self.report.refused.append(f"Issue #{iid} is not filed: {_reason(exc)}")
            return
        who = f"@{author}" if author == actor.username else f"{actor.username} (GitLab author @{author})"
        number = f"#{request.pk}" if request else "a request"
        self.report.filed.append(f"Issue #{iid} {issue['title']!r} → {number} in Triage, filed as {who}.")
        state, label = state_of(labels)
        if state not in (None, State.TRIAGE):
            self.report.notes.append(f"Issue #{iid}: {label} not applied: a new request starts in Triage.")

    def _pull_change(self, link: GitLabLink, issue: dict[str, Any]) -> None:
        request, iid = link.request, issue["iid"]
        state, label = state_of(issue.get("labels") or [])
        if issue["state"] == "closed" and state not in CLOSED_STATES:
            self._refuse(request, iid, "it was closed without a Won't Do or Completed label")
        elif state is None and label is not None:
            self._refuse(request, iid, f"{label} is not a workflow label")
        elif state is not None and state != request.state:
            try:
                self._write(lambda: self._move(request, state, iid))
            except ValidationError as exc:
                self._refuse(request, iid, f"{label}: {_reason(exc)}")
            else:
                was, now = State(request.state).label, state.label
                self.report.moved.append(
                    f"#{request.pk} moved from {was} to {now} (issue #{iid} relabelled)."
                )
        self._write(lambda: update_object(link, actor=None, source=SOURCE,
                                          issue_updated_at=_when(issue["updated_at"])))

    def _move(self, request: OpsRequest, state: State, iid: int) -> OpsRequest:
        # As the triage policies do, the move acts as nobody: the workflow's table and each label's
        # requirements (an assignee, a reviewer, the closing checklist) still apply.
        locked = OpsRequest.objects.select_for_update().get(pk=request.pk)
        return actions._move(locked, state, actor=None, note=f"Relabelled in GitLab (issue #{iid}).",
                             source=SOURCE)

    def _refuse(self, request: OpsRequest, iid: int, why: str) -> None:
        back = workflow_label(request.state)
        self.report.refused.append(
            f"#{request.pk} not moved: issue #{iid}: {why}. The issue is set back to {back}."
        )
        self.repush.add(request.pk)

    # -- push --

    def _push(self) -> None:
        requests = (
            OpsRequest.objects.select_related("assignee", "milestone", "gitlab_link")
            .prefetch_related("extra_labels")
            .order_by("pk")
        )
        for request in requests:
            wanted = desired(request)
            link = getattr(request, "gitlab_link", None)
            if link is None:
                if not wanted["closed"]:  # closed before it was ever mirrored: not worth an issue
                    self._create(request, wanted)
            elif link.pushed != fingerprint(wanted) or request.pk in self.repush:
                self._update(request, link, wanted)

    def _create(self, request: OpsRequest, wanted: dict[str, Any]) -> None:
        if self.report.dry_run:
            labels = ", ".join(wanted["labels"])
            self.report.created.append(f"#{request.pk} {request.title!r} → a new issue ({labels}).")
            return
        data = {"title": wanted["title"], "description": wanted["description"],
                "labels": ",".join(wanted["labels"]), **self._fields(wanted, {})}
        issue = self.project.issues.create(data).attributes
        self._write(lambda: self._link(request, issue, pushed=fingerprint(wanted), labels=wanted["labels"]))
        self.issues[issue["iid"]] = issue
        url = issue.get("web_url", "")
        self.report.created.append(f"#{request.pk} {request.title!r} → issue #{issue['iid']} {url}".rstrip())

    def _update(self, request: OpsRequest, link: GitLabLink, wanted: dict[str, Any]) -> None:
        current = self.issues.get(link.iid)
        if current is None:
            self.report.notes.append(f"#{request.pk}: issue #{link.iid} is gone from {self.key}: not pushed.")
            return
        have = set(current.get("labels") or [])
        add = sorted(set(wanted["labels"]) - have)
        remove = sorted(label for label in have - set(wanted["labels"])
                        if _managed(label) or label in link.labels)
        data: dict[str, Any] = self._fields(wanted, current)
        if current.get("title") != wanted["title"]:
            data["title"] = wanted["title"]
        if (current.get("description") or "") != wanted["description"]:
            data["description"] = wanted["description"]
        if add:
            data["add_labels"] = ",".join(add)
        if remove:
            data["remove_labels"] = ",".join(remove)
        if wanted["closed"] != (current.get("state") == "closed"):
            data["state_event"] = "close" if wanted["closed"] else "reopen"
        changes = ", ".join(sorted(k.removesuffix("_ids").removesuffix("_id") for k in data))
        if not data:  # the issue is as wanted already (it was relabelled in GitLab, say)
            self._write(lambda: update_object(link, actor=None, source=SOURCE, pushed=fingerprint(wanted),
                                              labels=wanted["labels"]))
            return
        if self.report.dry_run:
            self.report.updated.append(f"#{request.pk} → issue #{link.iid} would change: {changes}.")
            return
        issue = self.project.issues.update(link.iid, data)
        self._write(lambda: update_object(
            link, actor=None, source=SOURCE, issue_updated_at=_when(issue["updated_at"]),
            pushed=fingerprint(wanted), labels=wanted["labels"],
        ))
        self.issues[link.iid] = issue
        self.report.updated.append(f"#{request.pk} → issue #{link.iid}: {changes}.")

    def _fields(self, wanted: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        """Weight, due date, assignee and milestone where csops has one and the issue another."""
        data: dict[str, Any] = {}
        for name in ("weight", "due_date"):
            if name in wanted and current.get(name) != wanted[name]:
                data[name] = wanted[name]
        assignees = {a.get("username") for a in current.get("assignees") or []}
        if "assignee" in wanted and assignees != {wanted["assignee"]}:
            user_id = self._user_id(wanted["assignee"])
            data |= {"assignee_ids": [user_id]} if user_id is not None else {}
        milestone = (current.get("milestone") or {}).get("title")
        if "milestone" in wanted and milestone != wanted["milestone"]:
            milestone_id = self._milestone_id(wanted["milestone"])
            data |= {"milestone_id": milestone_id} if milestone_id is not None else {}
        return data

    def _user_id(self, username: str) -> int | None:
        if username not in self._user_ids:
            found = self.client.users.list(username=username)
            self._user_ids[username] = found[0].id if found else None
            if not found:
                self.report.notes.append(f"GitLab has no user {username!r}: issues are left unassigned.")
        return self._user_ids[username]

    def _milestone_id(self, title: str) -> int | None:
        if title not in self._milestone_ids:
            found = [m for m in self.project.milestones.list(title=title) if m.title == title]
            if found:
                self._milestone_ids[title] = found[0].id
            elif self.report.dry_run:
                self._milestone_ids[title] = None
            else:
                from csops.requests.models import Milestone

                milestone = Milestone.objects.get(title=title)
                made = self.project.milestones.create({
                    "title": title, "start_date": milestone.start.isoformat(),
                    "due_date": milestone.due.isoformat(),
                })
                self._milestone_ids[title] = made.id
                self.report.notes.append(f"Milestone {title!r} created in GitLab.")
        return self._milestone_ids[title]

    # -- links --

    def _link(self, request: OpsRequest, issue: dict[str, Any], *, pushed: str,
              labels: list[str] | None = None) -> GitLabLink:
        return create_object(
            GitLabLink, actor=None, source=SOURCE, request=request, project=self.key, iid=issue["iid"],
            web_url=issue.get("web_url") or "", issue_updated_at=_when(issue["updated_at"]),
            pushed=pushed, labels=labels or [],
        )


def _reason(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
    return " ".join(exc.messages)

