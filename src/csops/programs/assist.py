"""Email assist: from a CTA, a CSM sends a templated email to chosen contacts of its account, logs it
on the timeline, and may deploy the CSE engagement CSAT survey with it (the link in that email)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csops.cockpit.models import Cta
from csops.core import audit
from csops.core.models import User
from csops.customers.models import Contact
from csops.programs import outbox
from csops.programs.models import CseAssignment, EmailTemplate, OutboxMessage, Survey
from csops.timeline.actions import log_activity
from csops.timeline.models import Activity, ActivityType

FOLLOW_UP_TEMPLATE = "CSE engagement follow-up"
SURVEY = "CSE engagement CSAT"
ACTIVITY_TYPE = "Email"
KIND = "assist"


@dataclass
class AssistResult:
    queued: list[Contact] = field(default_factory=list)  # emailed now
    already: list[Contact] = field(default_factory=list)  # emailed this template from this CTA before
    surveyed: bool = False
    activity: Activity | None = None

    def __str__(self) -> str:
        if not self.queued:
            return "Nothing sent: each of them has had this email from this CTA already."
        names = ", ".join(str(c) for c in self.queued)
        text = f"Email queued to {names}" + (" with the CSE engagement CSAT survey" if self.surveyed else "")
        text += "; logged on the timeline."
        if self.already:
            text += f" Not again to {', '.join(str(c) for c in self.already)} (sent before)."
        return text


def message_key(cta: Cta, template: EmailTemplate, contact: Contact) -> str:
    """One email per CTA, template and contact, whether it carries the survey or not."""
    return f"assist:cta:{cta.pk}:template:{template.pk}:contact:{contact.pk}"


def _person(user: User | None) -> dict[str, str]:
    if user is None or user.is_pool:
        return {"name": "", "email": ""}
    return {"name": str(user), "email": user.email}


def _context(cta: Cta, contact: Contact, actor: User, assignment: CseAssignment | None) -> dict[str, Any]:
    """The merge fields, as programs' emails have them, except that the sender is who sends it."""
    account = cta.account
    cse = (assignment.cse if assignment and assignment.cse else None) or account.cse
    return {
        "contact": {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "name": str(contact),
            "email": contact.email,
            "title": contact.title,
        },
        "account": {"name": account.name},
        "csm": _person(account.csm),
        "cse": _person(cse),
        "sender": _person(actor),
        "organisation": {"name": settings.CSOPS_ORGANISATION["name"]},
    }


def _assignment(cta: Cta) -> CseAssignment | None:
    account = cta.account
    found = {
        a.geo_id: a
        for a in CseAssignment.objects.select_related("cse").filter(segment_id=account.segment_id)
    }
    return found.get(account.geo_id) or found.get(None)


def _check(cta: Cta, template: EmailTemplate | None, contacts: Sequence[Contact], deploy_survey: bool):
    if template is None:
        raise ValidationError({"template": "Choose an email template."})
    if not contacts:
        raise ValidationError({"contacts": "Choose at least one contact to email."})
    for contact in contacts:
        if contact.account_id != cta.account_id:
            raise ValidationError({"contacts": f"{contact} is not a contact of {cta.account}."})
        if contact.email_opt_out:
            raise ValidationError({"contacts": f"{contact} has opted out of emails."})
        if not contact.email:
            raise ValidationError({"contacts": f"{contact} has no email address."})
    if not deploy_survey:
        return None
    survey = Survey.objects.filter(name=SURVEY).first()
    if survey is None:
        raise ValidationError({"deploy_survey": f"There is no survey named {SURVEY!r} to deploy."})
    if "survey_link" not in template.text + template.html:
        raise ValidationError(
            {"deploy_survey": f"The template {template.name!r} has no {{{{ survey_link }}}} for the survey: "
                              f"choose one that has, such as {FOLLOW_UP_TEMPLATE!r}."}
        )
    return survey


@transaction.atomic
def send_assist_email(
    cta: Cta,
    *,
    actor: User,
    template: EmailTemplate | None,
    contacts: Sequence[Contact],
    deploy_survey: bool = False,
    source: str = "web",
    extra_context: dict[str, Any] | None = None,
) -> AssistResult:
    """Queue the template to each contact (the CTA owner in copy), log one Email activity on the CTA
    with the recipients as external attendees, and, when asked, deploy the CSE engagement CSAT
    survey to them, its link inside that same email. A contact has this email from this CTA once:
    posting again sends nothing more and logs nothing. Bad input is refused with the field named,
    and nothing is written."""
    contacts = list({c.pk: c for c in contacts}.values())
    survey = _check(cta, template, contacts, deploy_survey)
    # One post at a time per CTA, so two posts racing cannot both find a contact not yet emailed.
    Cta.objects.select_for_update().filter(pk=cta.pk).first()
    keys = {c.pk: message_key(cta, template, c) for c in contacts}
    sent_before = set(
        OutboxMessage.objects.filter(
            key__in=[*keys.values(), *(f"survey:{k}" for k in keys.values())]
        ).values_list("contact_id", flat=True)
    )
    result = AssistResult(
        already=[c for c in contacts if c.pk in sent_before],
        surveyed=survey is not None,
    )
    fresh = [c for c in contacts if c.pk not in sent_before]
    if not fresh:
        return result
    owner = _person(cta.owner)
    cc = [owner["email"]] if owner["email"] else []
    reply_to = actor.email or owner["email"]
    if survey is not None:
        from csops.programs.surveys import invite_contacts

        rows = [
            {"account_id": cta.account_id, "contact_id": c.pk, "key": keys[c.pk], "cta_id": cta.pk}
            for c in fresh
        ]
        invite_contacts(
            survey, rows, template=template, kind=KIND, source_ref=f"CTA {cta.pk}: {cta.name}",
            extra_context=extra_context,
        )
        # The invitations' emails are this follow-up: copy the CTA owner, replies to who sent it
        # (in this transaction, so the worker never sees them otherwise).
        new = OutboxMessage.objects.filter(key__in=[f"survey:{keys[c.pk]}" for c in fresh])
        new.update(cc=cc, reply_to=reply_to)
    else:
        assignment = _assignment(cta)
        calendly = assignment.calendly_url if assignment else ""
        outbox.queue(
            outbox.Draft(
                key=keys[c.pk],
                kind=KIND,
                to=c.email,
                template=template,
                context=_context(cta, c, actor, assignment) | (extra_context or {}),
                links={"calendly": calendly},
                cc=cc,
                reply_to=reply_to,
                refs={"account_id": cta.account_id, "contact_id": c.pk, "cta_id": cta.pk},
            )
            for c in fresh
        )
        new = OutboxMessage.objects.filter(key__in=[keys[c.pk] for c in fresh])
    messages = list(new.order_by("pk"))
    emailed = {m.contact_id for m in messages}
    result.queued = [c for c in fresh if c.pk in emailed]
    if not messages:
        return result
    audit.record_many(
        audit.entry(
            actor=actor,
            verb="create",
            obj=m,
            source=source,
            changes={"to": [None, m.to], "cc": [None, m.cc], "template": [None, template.name],
                     "cta": [None, cta.pk], "survey": [None, survey.name if survey else None]},
        )
        for m in messages
    )
    notes = f"Sent from the CTA with email assist: template {template.name!r}"
    notes += f", with the {survey.name} survey." if survey else "."
    if cc:
        notes += f" Copied: {', '.join(cc)}."
    result.activity = log_activity(
        cta.account,
        author=actor,
        type=ActivityType.objects.get(name=ACTIVITY_TYPE),
        subject=messages[0].subject[:255],
        date=timezone.localdate(),
        notes=notes,
        internal_attendees=[actor],
        external_attendees=result.queued,
        cta=cta,
        source=source,
    )
    return result
