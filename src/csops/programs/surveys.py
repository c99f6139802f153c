"""Surveys: invitations go out through the outbox with a single-use link; answers come back on the
public page, land on the account and the contact, and make the account's rules run again.

A link carries a random token (32 bytes); the invitation keeps only its SHA-256, so a token is
found by its digest and never stored in the clear on the invitation. (The email itself, as the
outbox keeps it, carries the link: whoever can read the outbox can read the links it sent.) A
token is good for one answer until the survey's `expires_in_days` have passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from csops.core import audit
from csops.core.actions import create_object
from csops.customers.models import Account, Contact
from csops.programs.journey import SURVEY_TEMPLATES
from csops.programs.models import (
    EmailTemplate,
    Enrolment,
    Survey,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
)
from csops.programs.outbox import Draft, base_url, queue
from csops.programs.runner import Assignments, merge_context
from csops.programs.runner import assignments as runner_assignments

log = logging.getLogger(__name__)

BATCH = 500
COMMENT_MAX = 2000
SCORES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}
# The categories, best first: (category, lowest score in it).
CATEGORIES = {
    SurveyKind.NPS: (("promoter", 9), ("passive", 7), ("detractor", 0)),
    SurveyKind.CSAT: (("satisfied", 4), ("neutral", 3), ("dissatisfied", 1)),
}
POSITIVE = ("promoter", "satisfied")
NEGATIVE = ("detractor", "dissatisfied")
REF_FIELDS = ("enrolment_id", "step", "cta_id")


class SurveyError(Exception):
    """An answer that cannot be taken; the message is meant for the person answering."""


class InvalidToken(SurveyError):
    def __init__(self) -> None:
        super().__init__("This survey link is not valid.")


class AlreadyAnswered(SurveyError):
    def __init__(self) -> None:
        super().__init__("This survey has already been answered. Thank you!")


class SurveyClosed(SurveyError):
    def __init__(self) -> None:
        super().__init__("This survey has closed.")


class InvalidAnswer(SurveyError):
    """Bad input: `field` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_url(token: str) -> str:
    """The public page of an invitation, absolute (it goes in an email)."""
    return base_url() + reverse("public:survey", args=[token])


def category(kind: str, score: int) -> str:
    return next(name for name, lowest in CATEGORIES[kind] if score >= lowest)


def score_range(kind: str) -> range:
    low, high = SCORES[kind]
    return range(low, high + 1)


# --- invitations ----------------------------------------------------------------------------------


def _context(account: Account, contact: Contact, assignments: Assignments) -> dict[str, Any]:
    """The merge fields of an invitation, as a program's emails have them (the sender is the CSE,
    else the CSM), signed by the organisation when the account has neither."""
    context, _ = merge_context(Enrolment(account=account, contact=contact), assignments)
    if not context["sender"]["name"]:
        context["sender"] = {"name": settings.CSOPS_ORGANISATION["name"], "email": ""}
    return context


def invite_contacts(
    survey: Survey,
    rows: list[dict],
    *,
    template: EmailTemplate | None = None,
    kind: str = "survey",
    source_ref: str = "",
    extra_context: dict[str, Any] | None = None,
) -> int:
    """Invite each row's contact (account_id, contact_id, key; optionally enrolment_id, step, cta_id)
    to answer the survey: an invitation with its own link, and the email queued in the outbox.

    A key already invited is left alone, so a retry, or two runners racing, invite no one twice.
    Contacts who opted out of email or have none are skipped and counted in the log. Returns how
    many were invited."""
    template = template or EmailTemplate.objects.get(name=SURVEY_TEMPLATES[survey.kind])
    unique = list({row["key"]: row for row in rows}.values())
    counts = {"invited": 0, "already invited": 0, "opted out": 0, "no email": 0, "unknown contact": 0}
    for start in range(0, len(unique), BATCH):
        with transaction.atomic():
            _invite_batch(
                survey, unique[start : start + BATCH], template, kind, source_ref, counts, extra_context or {}
            )
    skipped = {k: n for k, n in counts.items() if n and k != "invited"}
    if skipped:
        log.info("survey %s: %d invited; skipped %s", survey.name, counts["invited"], skipped)
    return counts["invited"]


def _invite_batch(
    survey: Survey,
    rows: list[dict],
    template: EmailTemplate,
    kind: str,
    source_ref: str,
    counts: dict,
    extra_context: dict[str, Any],
) -> None:
    keys = [r["key"] for r in rows]
    known = set(SurveyInvitation.objects.filter(key__in=keys).values_list("key", flat=True))
    counts["already invited"] += len(known)
    rows = [r for r in rows if r["key"] not in known]
    contacts = Contact.objects.in_bulk([r["contact_id"] for r in rows])
    accounts = Account.objects.select_related("csm", "cse").in_bulk([r["account_id"] for r in rows])
    assignments = runner_assignments()
    now = timezone.now()
    expires_at = now + dt.timedelta(days=survey.expires_in_days)
    chosen: list[tuple[dict, Contact, Account, str]] = []
    invitations = []
    for row in rows:
        contact, account = contacts.get(row["contact_id"]), accounts.get(row["account_id"])
        if contact is None or account is None:
            counts["unknown contact"] += 1
            continue
        if contact.email_opt_out:
            counts["opted out"] += 1
            continue
        if not contact.email:
            counts["no email"] += 1
            continue
        token = secrets.token_urlsafe(32)
        invitations.append(
            SurveyInvitation(
                survey=survey,
                account_id=account.pk,
                contact_id=contact.pk,
                digest=digest(token),
                key=row["key"][:255],
                enrolment_id=row.get("enrolment_id"),
                expires_at=expires_at,
            )
        )
        chosen.append((row, contact, account, token))
    if not invitations:
        return
    # A runner racing this one may have taken some keys since: the database keeps the first
    # invitation of a key, and only the ones written here (known by their digests) get an email.
    SurveyInvitation.objects.bulk_create(invitations, ignore_conflicts=True)
    digests = [i.digest for i in invitations]
    mine = dict(SurveyInvitation.objects.filter(digest__in=digests).values_list("digest", "pk"))
    counts["already invited"] += len(invitations) - len(mine)
    drafts, by_key = [], {}
    for (row, contact, account, token), invitation in zip(chosen, invitations, strict=True):
        if invitation.digest not in mine:
            continue
        invitation.pk = mine[invitation.digest]
        context = _context(account, contact, assignments) | extra_context
        draft = Draft(
            key=f"survey:{invitation.key}",
            kind=kind,
            to=contact.email,
            template=template,
            context=context,
            links={"survey": survey_url(token)},
            reply_to=context["sender"]["email"],
            refs={
                "account_id": account.pk,
                "contact_id": contact.pk,
                **{f: row[f] for f in REF_FIELDS if row.get(f) is not None},
            },
        )
        drafts.append(draft)
        by_key[draft.key[:255]] = invitation
    messages = queue(drafts)
    for message_id, key in messages:
        by_key[key].message_id = message_id
    SurveyInvitation.objects.bulk_update([by_key[key] for _, key in messages], ["message"])
    audit.record_many(
        audit.entry(
            actor=None,
            verb="create",
            obj=invitation,
            source="survey",
            changes={
                "survey": [None, survey.name],
                "contact_id": [None, invitation.contact_id],
                "message_id": [None, invitation.message_id],
                "by": [None, source_ref],
            },
        )
        for invitation in by_key.values()
    )
    counts["invited"] += len(by_key)


# --- answers ----------------------------------------------------------------------------------------


def find_invitation(token: str) -> SurveyInvitation:
    """The invitation of a token that may still be answered; raises why not otherwise."""
    invitation = (
        SurveyInvitation.objects.select_related("survey").filter(digest=digest(token)).first()
        if token
        else None
    )
    if invitation is None:
        raise InvalidToken()
    if invitation.answered_at is not None:
        raise AlreadyAnswered()
    if invitation.expires_at <= timezone.now():
        raise SurveyClosed()
    return invitation


def _check_answer(kind: str, score: Any, comment: Any) -> tuple[int, str]:
    low, high = SCORES[kind]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise InvalidAnswer("score", f"choose a score from {low} to {high}")
    if not isinstance(comment, str):
        raise InvalidAnswer("comment", "must be text")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidAnswer("comment", f"at most {COMMENT_MAX:,} characters ({len(comment):,} given)")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in comment):
        raise InvalidAnswer("comment", "contains control characters")
    return score, comment


def answer(token: str, *, score: int | None, comment: str = "") -> SurveyResponse:
    """Record the answer of an invitation, once: two posts racing make one response (the invitation
    is claimed with a conditional UPDATE). The account's rules run again within seconds."""
    invitation = find_invitation(token)
    score, comment = _check_answer(invitation.survey.kind, score, comment)
    now = timezone.now()
    with transaction.atomic():
        claimed = SurveyInvitation.objects.filter(
            pk=invitation.pk, answered_at__isnull=True, expires_at__gt=now
        ).update(answered_at=now)
        if not claimed:
            raise AlreadyAnswered()
        return create_object(
            SurveyResponse,
            actor=None,
            source="survey",
            invitation=invitation,
            survey=invitation.survey,
            account_id=invitation.account_id,
            contact_id=invitation.contact_id,
            score=score,
            category=category(invitation.survey.kind, score),
            comment=comment,
        )
