"""The program runner: walks every due enrolment forward, a step at a time, set-wise.

Due enrolments are grouped by program and step, and each group goes through its step at once
(queue its emails, raise its CTAs, invite to its survey, set its waits, branch on its clicks). A
group then moves on together; rounds repeat until every enrolment waits or has ended. Each step's
writes carry a key per enrolment and step, so a runner killed midway and run again repeats nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from csops.cockpit.actions import raise_ctas
from csops.cockpit.models import CtaReason, Playbook, Source
from csops.core.models import User
from csops.customers.models import Account
from csops.programs import outbox
from csops.programs.journey import SURVEY_TEMPLATES, Step, build_steps
from csops.programs.models import (
    CseAssignment,
    EmailTemplate,
    Enrolment,
    EnrolmentState,
    Program,
    TrackingEvent,
)

BATCH = 2000
MAX_ROUNDS = 50  # a program that branches back without waiting must not spin forever


@dataclass
class RunnerReport:
    done: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def __str__(self) -> str:
        parts = ", ".join(f"{n:,} {what}" for what, n in sorted(self.done.items())) or "nothing due"
        return f"{parts} in {self.seconds:.1f}s"


def _due(now: dt.datetime):
    return Enrolment.objects.filter(state=EnrolmentState.ACTIVE).filter(
        Q(next_at__isnull=True) | Q(next_at__lte=now)
    )


def advance(
    *, now: dt.datetime | None = None, progress: Callable[[str], None] = lambda m: None
) -> RunnerReport:
    """Run every due step of every active program's enrolments."""
    started = time.monotonic()
    now = now or timezone.now()
    report = RunnerReport()
    programs = {p.pk: (p, build_steps(p.steps, p.name)) for p in Program.objects.filter(active=True)}
    for _ in range(MAX_ROUNDS):
        groups = list(
            _due(now).filter(program__active=True).order_by().values_list("program_id", "step").distinct()
        )
        if not groups:
            break
        for program_id, index in groups:
            program, steps = programs[program_id]
            ids = list(
                _due(now)
                .filter(program_id=program_id, step=index)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            with transaction.atomic():
                _run_step(program, steps, index, ids, now, report)
        progress(f"  {report}")
    report.seconds = time.monotonic() - started
    return report


def _run_step(
    program: Program, steps: list[Step], index: int, ids: list[int], now: dt.datetime, report: RunnerReport
) -> None:
    if index >= len(steps):
        _end(ids, EnrolmentState.DONE, "", now)
        report.done["completed"] += len(ids)
        return
    step = steps[index]
    enrolments = list(
        Enrolment.objects.filter(pk__in=ids).select_related(
            "contact",
            "account",
            "account__csm",
            "account__csm__manager",
            "account__cse",
            "account__ae",
            "account__sa",
            "account__renewals_manager",
            "program",
        )
    )
    HANDLERS[step.kind](program, steps, index, step, enrolments, now, report)


def _move(enrolments: list[Enrolment], to: int, when: dt.datetime | None) -> None:
    Enrolment.objects.filter(pk__in=[e.pk for e in enrolments]).update(step=to, next_at=when)


def _end(ids: list[int], state: str, reason: str, now: dt.datetime) -> None:
    Enrolment.objects.filter(pk__in=ids).update(
        state=state, exit_reason=reason[:200], ended_at=now, next_at=None
    )


# --- one handler per kind of step ---------------------------------------------------------------


def _reachable(enrolments: list[Enrolment], now: dt.datetime, report: RunnerReport) -> list[Enrolment]:
    """Those whose contact can be emailed; the others leave the program (counted)."""
    gone = [e for e in enrolments if e.contact.email_opt_out or not e.contact.email]
    if gone:
        _end([e.pk for e in gone], EnrolmentState.EXITED, "opted out or no email address", now)
        report.done["exited: opted out or no email"] += len(gone)
    return [e for e in enrolments if e not in gone]


def person_fields(user) -> dict[str, str]:
    """A person as merge fields: name and email, blank for nobody."""
    return {"name": str(user), "email": user.email} if user is not None else {"name": "", "email": ""}


@dataclass
class Assignments:
    """Who a campaign speaks for: the CSE assignment of a segment and geo (and its Calendly link),
    and each pool's active members per geo, for accounts managed by a pool."""

    by_segment_geo: dict[tuple[int | None, int | None], CseAssignment]
    pool_members: dict[tuple[int, int], list[User]]

    def of(self, account: Account) -> CseAssignment | None:
        key = account.segment_id
        return self.by_segment_geo.get((key, account.geo_id)) or self.by_segment_geo.get((key, None))

    def cse(self, account: Account) -> User | None:
        """The CSE named for the segment and geo, else the account's own. An account without a named
        CSM (a pool's, or none, as in Digital) falls back to a CSE pool's member for its geo (its own
        pool's, if it has one), spread by account id as the rules spread a pool's accounts."""
        assignment = self.of(account)
        if assignment and assignment.cse:
            return assignment.cse
        if account.cse or (account.csm and not account.csm.is_pool):
            return account.cse
        pool = account.csm_id if account.csm else None
        members = [
            user
            for (pool_id, geo_id), users in sorted(self.pool_members.items())
            if geo_id == account.geo_id and pool in (None, pool_id)
            for user in users
        ]
        return members[account.pk % len(members)] if members else None


def assignments() -> Assignments:
    members: dict[tuple[int, int], list[User]] = {}
    for user in User.objects.filter(
        pool__isnull=False, is_active=True, is_pool=False, geo__isnull=False
    ).order_by("pool_id", "username"):
        members.setdefault((user.pool_id, user.geo_id), []).append(user)
    return Assignments(
        {(a.segment_id, a.geo_id): a for a in CseAssignment.objects.select_related("cse")}, members
    )


def merge_context(enrolment: Enrolment, assignments: Assignments) -> tuple[dict, dict[str, str]]:
    """Merge fields and named links for one enrolled contact."""
    account, contact = enrolment.account, enrolment.contact
    assignment = assignments.of(account)
    cse = assignments.cse(account)
    csm = account.csm if account.csm and not account.csm.is_pool else None
    context = {
        "contact": {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "name": str(contact),
            "email": contact.email,
            "title": contact.title,
        },
        "account": {"name": account.name},
        "csm": person_fields(csm),
        "cse": person_fields(cse),
        "sender": person_fields(cse or csm),
        "organisation": {"name": _organisation()},
    }
    calendly = assignment.calendly_url if assignment else ""
    links = {"calendly": calendly, "events": f"{outbox.base_url()}/e/"}  # the webinar and lab calendar
    return context, links


def _organisation() -> str:
    from django.conf import settings

    return settings.CSOPS_ORGANISATION["name"]


def _send(program, steps, index, step: Step, enrolments, now, report) -> None:
    template = EmailTemplate.objects.get(name=step.value)
    reachable = _reachable(enrolments, now, report)
    found = assignments()
    drafts = []
    for enrolment in reachable:
        context, links = merge_context(enrolment, found)
        drafts.append(
            outbox.Draft(
                key=f"enrol:{enrolment.pk}:step:{index}",
                kind="program",
                to=enrolment.contact.email,
                template=template,
                context=context,
                links=links,
                reply_to=context["sender"]["email"],
                refs={
                    "account_id": enrolment.account_id,
                    "contact_id": enrolment.contact_id,
                    "enrolment_id": enrolment.pk,
                    "step": index,
                },
            )
        )
    report.done["emails queued"] += len(outbox.queue(drafts))
    _move(reachable, index + 1, now)


def _wait(program, steps, index, step: Step, enrolments, now, report) -> None:
    ((kind, days),) = step.value.items()
    later: dict[dt.datetime, list[Enrolment]] = {}
    lost = []
    for enrolment in enrolments:
        when = _wait_until(kind, days, enrolment.account, enrolment.enrolled_at, now)
        if when is None:
            lost.append(enrolment)
        else:
            later.setdefault(max(when, now), []).append(enrolment)
    for when, group in later.items():
        _move(group, index + 1, when)
    if lost:
        _end([e.pk for e in lost], EnrolmentState.EXITED, f"no date to wait for ({kind})", now)
        report.done["exited: no date to wait for"] += len(lost)
    report.done["waiting"] += len(enrolments) - len(lost)


def _wait_until(kind: str, days: int, account: Account, enrolled_at: dt.datetime, now: dt.datetime):
    def at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, now.timetz())

    if kind == "days":
        return now + dt.timedelta(days=days)
    if kind == "until_contract_day":
        return at(account.contract_start + dt.timedelta(days=days)) if account.contract_start else None
    return at(account.renewal_date - dt.timedelta(days=days)) if account.renewal_date else None


def _target(steps: list[Step], index: int, target: str) -> int | None:
    if target == "next":
        return index + 1
    if target == "exit":
        return None
    return next(i for i, s in enumerate(steps) if s.label == target)


def _branch(program, steps, index, step: Step, enrolments, now, report) -> None:
    clicked = set(
        TrackingEvent.objects.filter(
            kind=TrackingEvent.Kind.CLICK, link=step.value["clicked"], message__enrolment__in=enrolments
        ).values_list("message__enrolment_id", flat=True)
    )
    for outcome, group in (
        ("then", [e for e in enrolments if e.pk in clicked]),
        ("else", [e for e in enrolments if e.pk not in clicked]),
    ):
        if not group:
            continue
        target = _target(steps, index, step.value[outcome])
        if target is None:
            _end([e.pk for e in group], EnrolmentState.EXITED, f"branch: {outcome}", now)
        else:
            _move(group, target, now)
        report.done[
            f"branch {step.value['clicked']} {'clicked' if outcome == 'then' else 'not clicked'}"
        ] += len(group)


def _owner(enrolment: Enrolment, role: str, found: Assignments) -> int | None:
    account = enrolment.account
    csm = account.csm if account.csm and not account.csm.is_pool else None
    cse = found.cse(account)
    people = {
        "csm": csm or cse,
        "cse": cse,
        "ae": account.ae,
        "sa": account.sa,
        "renewals_manager": account.renewals_manager,
        "csm_manager": (csm.manager if csm else None) or csm,
    }
    person = people.get(role)
    return person.pk if person is not None else None


def _create_cta(program, steps, index, step: Step, enrolments, now, report) -> None:
    value = step.value
    reason = CtaReason.objects.select_related("type").get(type__name=value["type"], name=value["reason"])
    role = value.get("owner", "csm")
    due = timezone.localdate() + dt.timedelta(days=value.get("due_in_days", 7))
    found = assignments()
    rows = [
        {
            "account_id": e.account_id,
            "name": f"{e.account.name} - {reason.name}"[:255],
            "owner_id": _owner(e, role, found),
            "due_date": due,
            "dedupe_key": f"program:{e.pk}:step:{index}",
            **{f"{r}_owner": _owner(e, r, found) for r in ("csm", "cse", "ae", "sa", "renewals_manager")},
        }
        for e in enrolments
    ]
    report.done["CTAs raised"] += raise_ctas(
        rows,
        type=reason.type,
        reason=reason,
        priority=value.get("priority", "medium"),
        playbook=Playbook.objects.filter(name=value["playbook"]).first() if value.get("playbook") else None,
        source_ref=f"{program.name} · step {index + 1}",
        rule_run_id=None,
        source=Source.PROGRAM,
    )
    _move(enrolments, index + 1, now)


def _survey(program, steps, index, step: Step, enrolments, now, report) -> None:
    from csops.programs.models import Survey
    from csops.programs.surveys import invite_contacts

    survey = Survey.objects.get(name=step.value["name"])
    template = EmailTemplate.objects.get(name=step.value.get("template") or SURVEY_TEMPLATES[survey.kind])
    reachable = _reachable(enrolments, now, report)
    rows = [
        {
            "account_id": e.account_id,
            "contact_id": e.contact_id,
            "enrolment_id": e.pk,
            "key": f"enrol:{e.pk}:step:{index}",
        }
        for e in reachable
    ]
    report.done["survey invitations"] += invite_contacts(
        survey, rows, template=template, kind="survey", source_ref=program.name
    )
    _move(reachable, index + 1, now)


def _exit(program, steps, index, step: Step, enrolments, now, report) -> None:
    _end([e.pk for e in enrolments], EnrolmentState.EXITED, step.value, now)
    report.done["exited"] += len(enrolments)


HANDLERS = {
    "send": _send,
    "wait": _wait,
    "branch": _branch,
    "create_cta": _create_cta,
    "survey": _survey,
    "exit": _exit,
}
