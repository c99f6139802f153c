"""CSE engagement requests, as the CSE operating rhythm defines them: filed by the account owner of
an eligible account, raised as a CTA by a batch (not at filing), the call, the follow-up that
deploys a CSAT survey, further questions, and the topic rules. Every rule is enforced here."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csops.cockpit.actions import raise_ctas
from csops.cockpit.models import Cta, CtaReason, Playbook, Priority, Source
from csops.core import audit
from csops.core.actions import create_object, update_object
from csops.core.calendar import (
    add_business_days,
    business_date,
    business_today,
    fiscal_quarter,
    fiscal_quarter_label,
)
from csops.core.models import User
from csops.customers.models import Account, Contact, Opportunity
from csops.engagements.models import (
    NAME_SUFFIX,
    EngagementPolicy,
    EngagementRequest,
    Environment,
    FollowUp,
    FollowUpKind,
    Intervention,
    RequestStatus,
    RiskType,
    UseCase,
)
from csops.programs import outbox
from csops.programs.models import EmailTemplate
from csops.programs.runner import Assignments, assignments, person_fields
from csops.timeline.actions import log_activity
from csops.timeline.models import Activity, ActivityType

CHALLENGES_MAX = 1000
CTA_NAME_MAX = Cta._meta.get_field("name").max_length
ACTIVITY_TYPE = "CSE Engagement"
OWNER_FIELDS = ("ae", "renewals_manager")
# Characters that belong to the one before them: cutting between the two would change a letter.
JOINING = {"\u200d", "\ufe0f", "\ufe0e"}


def policy() -> EngagementPolicy:
    found = EngagementPolicy.objects.filter(name="default").first()
    if found is None:
        raise ValidationError(
            "There is no engagement policy named 'default': apply engagement_policies.yaml."
        )
    return found


# --- the CTA's name ---------------------------------------------------------------------------------


def cta_name(customer: str, limit: int = CTA_NAME_MAX) -> str:
    """`<Customer Name> - Ad-Hoc CSE Engagement Request`: metrics count only CTAs with the suffix, so
    it is always whole; the customer's name is cut to fit (at a character boundary, never between a
    letter and its accent or inside an emoji sequence) and marked with an ellipsis."""
    name = " ".join(customer.split())
    room = limit - len(NAME_SUFFIX)
    if len(name) > room:
        name = _cut(name, room - 1).rstrip() + "…"
    return name + NAME_SUFFIX


def _cut(text: str, length: int) -> str:
    while 0 < length < len(text) and (
        unicodedata.combining(text[length]) or text[length] in JOINING or text[length - 1] == "\u200d"
    ):
        length -= 1
    return text[:length]


# --- filing ---------------------------------------------------------------------------------------


def account_owners(account: Account) -> list[User]:
    return [u for u in (getattr(account, f) for f in OWNER_FIELDS) if u is not None]


def eligibility(account: Account, rules: EngagementPolicy, approved_by: User | None = None) -> dict[str, str]:
    """The failed conditions, by field: {} when the account qualifies."""
    problems = {}
    arr = Decimal(account.arr or 0)
    if arr < rules.min_arr:
        problems["arr"] = (
            f"{account} has an ARR of {arr:,.2f}, under the minimum of {rules.min_arr:,.2f} "
            "for a CSE engagement."
        )
    if rules.max_arr is not None and arr > rules.max_arr and approved_by is None:
        problems["approved_by"] = (
            f"{account} has an ARR of {arr:,.2f}, above {rules.max_arr:,.2f}: name the regional sales leader "
            "who approved this request."
        )
    pool = account.csm
    if pool is None or not pool.is_pool or pool.username != rules.pool:
        problems["csm"] = (
            f"The assigned CSM of {account} is {pool or 'nobody'}, not the {rules.pool} pool: only its "
            "accounts qualify for a CSE engagement."
        )
    return problems


@transaction.atomic
def file_request(
    account: Account,
    *,
    actor: User,
    contact: Contact | None,
    topic: str,
    interventions: Sequence[str],
    primary_use_case: str,
    risk_type: str,
    environment: str,
    challenges: str = "",
    opt_out_outreach: bool = False,
    priority: str = Priority.MEDIUM,
    opportunity: Opportunity | None = None,
    approved_by: User | None = None,
    approval_note: str = "",
    source: str = "web",
) -> EngagementRequest:
    """File a request for a CSE engagement. Only the account owner may; the account must qualify;
    every field is checked and the first problems are named; nothing is written on refusal."""
    rules = policy()
    errors: dict[str, str] = {}
    owners = account_owners(account)
    if actor not in owners:
        names = ", ".join(str(u) for u in owners) or "nobody (set the account's AE or renewals manager)"
        errors["filed_by"] = (
            f"Only the account owner (AE, SAE or Renewals Manager) of {account} may file a CSE engagement "
            f"request: {names}."
        )
    errors |= _check_fields(
        account,
        contact,
        topic,
        interventions,
        primary_use_case,
        risk_type,
        environment,
        challenges,
        priority,
        opportunity,
    )
    errors |= eligibility(account, rules, approved_by)
    if approved_by is not None and approved_by.is_pool:
        errors["approved_by"] = f"{approved_by} is a pool, not a person."
    if errors:
        raise ValidationError(errors)
    return create_object(
        EngagementRequest,
        actor=actor,
        source=source,
        account=account,
        opportunity=opportunity,
        filed_by=actor,
        contact=contact,
        topic=topic.strip(),
        interventions=list(dict.fromkeys(interventions)),
        primary_use_case=primary_use_case,
        risk_type=risk_type,
        environment=environment,
        challenges=challenges,
        opt_out_outreach=opt_out_outreach,
        priority=priority,
        approved_by=approved_by,
        approval_note=approval_note.strip(),
        continues=_previous(account),
    )


def _check_fields(
    account, contact, topic, interventions, use_case, risk, environment, challenges, priority, opportunity
) -> dict[str, str]:
    errors = {}
    if contact is None:
        errors["contact"] = "Choose the customer contact."
    elif contact.account_id != account.pk:
        errors["contact"] = f"{contact} is not a contact of {account}."
    if not (topic or "").strip():
        errors["topic"] = "Say what the customer needs help with."
    if not interventions:
        errors["interventions"] = "Choose at least one intervention."
    elif unknown := [i for i in interventions if i not in Intervention.values]:
        errors["interventions"] = (
            f"Unknown intervention {unknown[0]!r}; choose from {', '.join(Intervention.values)}."
        )
    for name, value, choices in (
        ("primary_use_case", use_case, UseCase),
        ("risk_type", risk, RiskType),
        ("environment", environment, Environment),
        ("priority", priority, Priority),
    ):
        if value not in choices.values:
            errors[name] = f"Choose one of {', '.join(choices.values)}" + (
                f" (not {value!r})." if value else "."
            )
    if len(challenges or "") > CHALLENGES_MAX:
        errors["challenges"] = (
            f"At most {CHALLENGES_MAX:,} characters ({len(challenges):,} given); nothing was cut: shorten it."
        )
    if opportunity is not None and opportunity.account_id != account.pk:
        errors["opportunity"] = f"{opportunity} is an opportunity of another account."
    return errors


def _previous(account: Account) -> EngagementRequest | None:
    return account.engagement_requests.order_by("-filed_at", "-pk").first()


# --- the batch: requests become CTAs ------------------------------------------------------------------


@dataclass
class ConversionReport:
    ctas: int = 0
    outreach: int = 0
    skipped: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.items())
        return f"{self.ctas} CTA(s) raised, {self.outreach} outreach email(s) queued" + (
            f"; no outreach: {skipped}" if skipped else ""
        )


def convert_requests() -> ConversionReport:
    """Raise a CTA for every filed request, for the CSE who handled the customer before, else the
    CSE for the account's segment and geo. Each CTA has the request's dedupe key, so running the
    batch again, or two batches racing, raise one CTA per request."""
    rules = policy()
    reason = CtaReason.objects.select_related("type").get(type__name=rules.cta_type, name=rules.cta_reason)
    playbook = Playbook.objects.filter(name=rules.playbook).first()
    found = assignments()
    report = ConversionReport()
    filed = list(
        EngagementRequest.objects.filter(status=RequestStatus.FILED, cta__isnull=True)
        .select_related("account__csm", "account__cse", "account__ae", "contact", "filed_by", "continues")
        .order_by("pk")
    )
    for priority in Priority.values:
        group = [r for r in filed if r.priority == priority]
        if group:
            report.ctas += raise_ctas(
                [_cta_row(r, found, rules) for r in group],
                type=reason.type,
                reason=reason,
                priority=priority,
                playbook=playbook,
                source_ref="CSE engagement request",
                rule_run_id=None,
                source=Source.REQUEST,
            )
    for request in filed:
        with transaction.atomic():
            if _link(request):
                _queue_outreach(request, rules, found, report)
    return report


def _cse(request: EngagementRequest, found: Assignments) -> User | None:
    """Customers coming back go to the CSE who handled them before."""
    before = (
        EngagementRequest.objects.filter(account=request.account, cse__isnull=False, cse__is_active=True)
        .exclude(pk=request.pk)
        .order_by("-filed_at", "-pk")
        .select_related("cse")
        .first()
    )
    return before.cse if before else found.cse(request.account)


def _cta_row(request: EngagementRequest, found: Assignments, rules: EngagementPolicy) -> dict[str, Any]:
    account = request.account
    cse = _cse(request, found)
    request.cse = cse
    return {
        "account_id": account.pk,
        "name": cta_name(account.name),
        "owner_id": cse.pk if cse else None,
        "due_date": add_business_days(business_today(), rules.follow_up_business_days),
        "dedupe_key": dedupe_key(request),
        "cse_owner": cse.pk if cse else None,
        "csm_owner": None,
        "ae_owner": account.ae_id,
        "sa_owner": account.sa_id,
        "renewals_manager_owner": account.renewals_manager_id,
    }


def dedupe_key(request: EngagementRequest) -> str:
    return f"engagement-request:{request.pk}"


def _link(request: EngagementRequest) -> bool:
    """Point the request at its CTA, once: False when another batch got there first."""
    cta = Cta.objects.filter(dedupe_key=dedupe_key(request)).first()
    if cta is None:
        return False
    linked = EngagementRequest.objects.filter(pk=request.pk, cta__isnull=True).update(
        cta=cta, cse=cta.owner, status=RequestStatus.OPEN, converted_at=timezone.now()
    )
    if linked:
        request.refresh_from_db()
        audit.record(
            actor=None,
            verb="update",
            obj=request,
            source="batch",
            changes={"status": [RequestStatus.FILED, RequestStatus.OPEN], "cta": [None, cta.pk]},
        )
    return bool(linked)


def _queue_outreach(
    request: EngagementRequest, rules: EngagementPolicy, found: Assignments, report: ConversionReport
) -> None:
    """Unless the owner opted out, the CSE writes to the contact with the account owner in copy."""
    contact = request.contact
    why = (
        "opted out by the account owner"
        if request.opt_out_outreach
        else "contact opted out of email"
        if contact.email_opt_out
        else "contact has no email"
        if not contact.email
        else ""
    )
    if why:
        report.skipped[why] += 1
        return
    template = EmailTemplate.objects.get(name=rules.outreach_template)
    cse, owner = request.cse, request.filed_by
    assignment = found.of(request.account)
    outbox.queue(
        [
            outbox.Draft(
                key=f"{dedupe_key(request)}:outreach",
                kind="engagement",
                to=contact.email,
                template=template,
                context={
                    "contact": {
                        "first_name": contact.first_name,
                        "last_name": contact.last_name,
                        "name": str(contact),
                        "email": contact.email,
                        "title": contact.title,
                    },
                    "account": {"name": request.account.name},
                    "cse": person_fields(cse),
                    "owner": person_fields(owner),
                    "sender": person_fields(cse or owner),
                    "organisation": {"name": settings.CSOPS_ORGANISATION["name"]},
                },
                links={"calendly": assignment.calendly_url if assignment else ""},
                cc=[owner.email] if owner.email else [],
                reply_to=(cse.email if cse else "") or owner.email,
                refs={"account_id": request.account_id, "contact_id": contact.pk, "cta_id": request.cta_id},
            )
        ]
    )
    report.outreach += 1


# --- the call, the follow-up and further questions ----------------------------------------------------


def _require_cta(request: EngagementRequest) -> Cta:
    if request.status == RequestStatus.CLOSED:
        raise ValidationError({"request": "This request is closed: reopen it first (this quarter's only)."})
    if request.cta is None:
        raise ValidationError(
            {
                "request": "This request has no CTA yet: the batch raises it every 4 hours, "
                "then the CSE works it."
            }
        )
    return request.cta


@transaction.atomic
def log_call(
    request: EngagementRequest,
    *,
    actor: User,
    date: dt.date,
    notes: str = "",
    attendees: Sequence[Contact] = (),
    source: str = "web",
) -> Activity:
    """The call, as a CSE Engagement activity on the timeline linked to the CTA; the follow-up email
    is due 2-3 business days later (the policy's days)."""
    cta = _require_cta(request)
    if date > business_today():
        raise ValidationError({"date": "A call is logged once it has happened: the date is in the future."})
    activity = log_activity(
        request.account,
        author=actor,
        type=ActivityType.objects.get(name=ACTIVITY_TYPE),
        subject=f"CSE engagement: {request.topic}"[:200],
        date=date,
        notes=notes,
        internal_attendees=[actor],
        external_attendees=list(attendees) or [request.contact],
        cta=cta,
        source=source,
    )
    fields: dict[str, Any] = {"last_contact_on": max(date, request.last_contact_on or date)}
    if request.called_on is None:
        fields |= {"called_on": date, "status": RequestStatus.CALLED}
        rules = policy()
        _open_follow_up(request, rules, FollowUpKind.EMAIL, date, rules.follow_up_business_days, "", actor)
    update_object(request, actor=actor, source=source, **fields)
    return activity


def _open_follow_up(request, rules, kind, opened_on, business_days, question, actor) -> FollowUp:
    done = request.follow_ups.count()
    if done >= rules.max_follow_ups:
        raise ValidationError(
            {
                "question": f"This request has had {done} follow-ups, the most for one topic "
                f"({rules.max_follow_ups}): "
                "a 4th is refused. File a new request for what the customer needs now."
            }
        )
    follow_up = create_object(
        FollowUp,
        actor=actor,
        request=request,
        kind=kind,
        question=question,
        opened_on=opened_on,
        due_on=add_business_days(opened_on, business_days),
    )
    _due_on_cta(request)
    return follow_up


def _due_on_cta(request: EngagementRequest) -> None:
    """The CTA is due when the earliest open follow-up is, so an overdue one shows in the cockpit."""
    due = (
        request.follow_ups.filter(done_at__isnull=True)
        .order_by("due_on")
        .values_list("due_on", flat=True)
        .first()
    )
    if request.cta_id and due:
        Cta.objects.filter(pk=request.cta_id).update(due_date=due)


@transaction.atomic
def send_follow_up(
    request: EngagementRequest,
    *,
    actor: User,
    contacts: Sequence[Contact],
    summary: str,
    action_items: str,
    resources: str,
    deploy_survey: bool = True,
    source: str = "web",
):
    """The follow-up email after the call (summary, action items, resources, an invitation to ask),
    sent with email assist from the CTA; it deploys the CSE engagement CSAT survey to its recipients."""
    from csops.programs.assist import send_assist_email

    cta = _require_cta(request)
    email = request.follow_ups.filter(kind=FollowUpKind.EMAIL).first()
    if request.called_on is None or email is None:
        raise ValidationError({"request": "Log the call first: the follow-up email comes after it."})
    if email.done_at is not None:
        raise ValidationError(
            {"request": f"The follow-up email went out on {email.done_on}: record a further question."}
        )
    errors = {
        name: "Write this part of the follow-up."
        for name, value in (("summary", summary), ("action_items", action_items), ("resources", resources))
        if not value.strip()
    }
    if errors:
        raise ValidationError(errors)
    rules = policy()
    result = send_assist_email(
        cta,
        actor=actor,
        template=EmailTemplate.objects.get(name=rules.follow_up_template),
        contacts=contacts,
        deploy_survey=deploy_survey,
        source=source,
        extra_context={
            "engagement": {
                "summary": summary.strip(),
                "action_items": action_items.strip(),
                "resources": resources.strip(),
            }
        },
    )
    if result.queued:
        _done(email, actor, source)
        update_object(
            request,
            actor=actor,
            source=source,
            status=RequestStatus.FOLLOWED_UP,
            last_contact_on=business_today(),
        )
    return result


def _done(follow_up: FollowUp, actor: User, source: str) -> None:
    update_object(follow_up, actor=actor, source=source, done_at=timezone.now(), done_on=business_today())
    _due_on_cta(follow_up.request)


@transaction.atomic
def record_question(
    request: EngagementRequest,
    *,
    actor: User,
    asked_on: dt.date,
    question: str,
    topic: str = "",
    source: str = "web",
) -> FollowUp | EngagementRequest:
    """A customer's further question. On the request's topic within 4 weeks of the last contact it is
    a follow-up, due in 1 business day (at most 3 per topic). A new topic, or a question after more
    than 4 weeks, opens a new request for the same CSE instead, returned in place of a follow-up."""
    rules = policy()
    if not question.strip():
        raise ValidationError({"question": "Write the customer's question."})
    new_topic = bool(topic.strip()) and topic.strip().casefold() != request.topic.casefold()
    since = (asked_on - request.last_contact_on).days if request.last_contact_on else 0
    if new_topic or since > rules.new_topic_after_days:
        return _continue(request, actor, topic.strip() if new_topic else request.topic, question, source)
    _refuse_previous_quarter(request, "take a new question")
    if request.status == RequestStatus.CLOSED:
        update_object(request, actor=actor, source=source, status=RequestStatus.FOLLOWED_UP, closed_at=None)
    follow_up = _open_follow_up(
        request, rules, FollowUpKind.ANSWER, asked_on, rules.answer_business_days, question.strip(), actor
    )
    update_object(request, actor=actor, source=source, last_contact_on=asked_on)
    return follow_up


def _continue(request: EngagementRequest, actor: User, topic: str, question: str, source: str):
    """A new request on behalf of the account owner who filed the first, for the same CSE."""
    fields = {
        f: getattr(request, f)
        for f in (
            "account",
            "opportunity",
            "filed_by",
            "contact",
            "interventions",
            "primary_use_case",
            "risk_type",
            "environment",
            "opt_out_outreach",
            "priority",
            "approved_by",
            "approval_note",
        )
    }
    return create_object(
        EngagementRequest,
        actor=actor,
        source=source,
        topic=topic[:200],
        continues=request,
        challenges=f"Opened from request #{request.pk}: {question.strip()}"[:CHALLENGES_MAX],
        **fields,
    )


@transaction.atomic
def answer_question(follow_up: FollowUp, *, actor: User, source: str = "web") -> FollowUp:
    if follow_up.kind != FollowUpKind.ANSWER:
        raise ValidationError({"follow_up": "The follow-up email is done by sending it, not marked answered"})
    if follow_up.done_at is not None:
        return follow_up
    _done(follow_up, actor, source)
    update_object(follow_up.request, actor=actor, source=source, last_contact_on=business_today())
    return follow_up


def _refuse_previous_quarter(request: EngagementRequest, what: str) -> None:
    filed = business_date(request.filed_at)
    if fiscal_quarter(filed) < fiscal_quarter(business_today()):
        raise ValidationError(
            {
                "request": f"Request #{request.pk} was filed in {fiscal_quarter_label(filed)}, "
                "a previous quarter: "
                f"it cannot {what}. File a new request."
            }
        )


@transaction.atomic
def close_request(request: EngagementRequest, *, actor: User, source: str = "web") -> EngagementRequest:
    if request.status == RequestStatus.CLOSED:
        return request
    return update_object(
        request, actor=actor, source=source, status=RequestStatus.CLOSED, closed_at=timezone.now()
    )


@transaction.atomic
def reopen_request(request: EngagementRequest, *, actor: User, source: str = "web") -> EngagementRequest:
    """Reopen a closed request of this fiscal quarter; one of a previous quarter never reopens."""
    if request.status != RequestStatus.CLOSED:
        return request
    _refuse_previous_quarter(request, "be reopened")
    followed_up = request.follow_ups.filter(kind=FollowUpKind.EMAIL, done_at__isnull=False).exists()
    if followed_up:
        status = RequestStatus.FOLLOWED_UP
    elif request.called_on:
        status = RequestStatus.CALLED
    else:
        status = RequestStatus.OPEN if request.cta_id else RequestStatus.FILED
    return update_object(request, actor=actor, source=source, status=status, closed_at=None)
