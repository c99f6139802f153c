"""The Sales→CS handoff (command plan): opened for every won New or Growth opportunity, filled by
the AE, read by the CSM before onboarding. Every write goes through these actions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import CtaReason, CtaType, Playbook
from csops.core.actions import update_object
from csops.core.calendar import business_today
from csops.core.models import User
from csops.customers.models import Contact, Opportunity, OpportunityType
from csops.programs import outbox
from csops.renewals.models import HANDOFF_REQUIRED, Handoff

PERMISSION = "change_opportunity"  # the AE (an account owner) fills the handoff; admins may too
WON_STAGE = "Closed Won"
HANDOFF_TYPES = (OpportunityType.NEW, OpportunityType.ADD_ON)  # New and Growth (add-on) business
# A deal won longer ago than this is past onboarding: the first run must not open a handoff for
# every account's original New Business opportunity.
LOOKBACK_DAYS = 30
KICKOFF_WITHIN_DAYS = 14  # DOMAIN.md: New Customer Onboarding, kickoff within 14 days
CTA_TYPE, CTA_REASON, PLAYBOOK = "Lifecycle", "New Customer Onboarding", "New Customer Onboarding"

REQUIRED = HANDOFF_REQUIRED
EDITABLE = (*REQUIRED, "metrics")


def won_opportunities(as_of: dt.date) -> QuerySet[Opportunity]:
    """New and Growth opportunities won in the look-back window up to `as_of`."""
    return Opportunity.objects.filter(
        type__in=HANDOFF_TYPES,
        stage__iexact=WON_STAGE,
        close_date__lte=as_of,
        close_date__gt=as_of - dt.timedelta(days=LOOKBACK_DAYS),
    )


def open_handoffs(as_of: dt.date | None = None) -> int:
    """Open a handoff for each won New or Growth opportunity that has none, with an onboarding CTA
    for the account's CSM (the TAM Scale pool for pooled accounts). Idempotent: the handoff is
    one per opportunity and the CTA's dedupe key names the opportunity; a run that failed between
    the two is completed by the next one. Returns how many handoffs were opened."""
    as_of = as_of or business_today()
    new = [
        Handoff(opportunity_id=opp_id, account_id=account_id)
        for opp_id, account_id in won_opportunities(as_of)
        .filter(handoff__isnull=True)
        .values_list("id", "account_id")
    ]
    Handoff.objects.bulk_create(new, ignore_conflicts=True)
    pending = list(Handoff.objects.filter(cta__isnull=True, completed_at__isnull=True)
                   .filter(opportunity__in=won_opportunities(as_of))
                   .select_related("account__csm", "account__cse", "opportunity"))
    if pending:
        kind = CtaType.objects.get(name=CTA_TYPE)
        reason = CtaReason.objects.get(type=kind, name=CTA_REASON)
        playbook = Playbook.objects.filter(name=PLAYBOOK).first()
        for handoff in pending:
            account = handoff.account
            with transaction.atomic():
                cta, _ = create_cta(
                    account,
                    actor=None,
                    type=kind,
                    reason=reason,
                    name=f"{account.name} - {CTA_REASON}",
                    owner=account.csm,  # for a pooled account, the pool
                    due_date=as_of + dt.timedelta(days=KICKOFF_WITHIN_DAYS),
                    playbook=playbook,
                    source="rule",
                    source_ref=f"handoff:{handoff.opportunity.external_id}",
                    dedupe_key=f"handoff:{handoff.opportunity_id}",
                )
                Handoff.objects.filter(pk=handoff.pk).update(cta=cta)
    return len(new)


def missing_fields(handoff: Handoff) -> list[str]:
    """The labels of the required fields still empty."""
    return handoff.missing_fields()


def missing_q(field: str | None = None) -> Q:
    """Handoffs missing `field` (any required field when None), as a filter: the list page's."""
    names = [field] if field else list(REQUIRED)
    q = Q()
    for name in names:
        q |= Q(contacts_count=0) if name == "key_contacts" else Q(**{name: ""})
    return q


def with_counts(queryset: QuerySet[Handoff]) -> QuerySet[Handoff]:
    return queryset.annotate(contacts_count=Count("key_contacts", distinct=True))


def update_handoff(handoff: Handoff, *, actor: User | None, source: str = "web", **fields: Any) -> Handoff:
    """The AE fills the handoff. `key_contacts` are contacts of the handoff's account. The handoff is
    complete (completed_at) once no required field is empty, and incomplete again if one empties."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"Not a handoff field: {', '.join(sorted(unknown))}.")
    contacts = fields.pop("key_contacts", None)
    with transaction.atomic():
        if contacts is not None:
            contacts = list(contacts)
            strangers = [c for c in contacts if c.account_id != handoff.account_id]
            if strangers:
                raise ValidationError(
                    {"key_contacts": f"Key contacts: {strangers[0]} is not a contact of {handoff.account}."}
                )
            handoff.key_contacts.set(contacts)
            # Whatever count or prefetch the caller loaded is stale now.
            handoff.__dict__.pop("contacts_count", None)
            getattr(handoff, "_prefetched_objects_cache", {}).pop("key_contacts", None)
        update_object(handoff, actor=actor, source=source, **fields)
        complete = not missing_fields(handoff)
        if complete != (handoff.completed_at is not None):
            update_object(handoff, actor=actor, source=source,
                          completed_at=timezone.now() if complete else None)
    return handoff


def contact_choices(handoff: Handoff) -> QuerySet[Contact]:
    return Contact.objects.filter(account_id=handoff.account_id)


def remind_aes(today: dt.date | None = None) -> int:
    """Email each AE the handoffs of their accounts with required fields still empty: one message
    per AE and day (the outbox key carries both, so a re-run the same day queues nothing)."""
    today = today or business_today()
    handoffs = (
        Handoff.objects.filter(completed_at__isnull=True, account__ae__isnull=False)
        .exclude(account__ae__email="")
        .select_related("account__ae", "opportunity")
        .prefetch_related("key_contacts")
        .order_by("pk")
    )
    by_ae: dict[User, list[Handoff]] = defaultdict(list)
    for handoff in handoffs:
        by_ae[handoff.account.ae].append(handoff)
    queued = 0
    for ae, items in by_ae.items():
        lines = [
            f"- {h.account} / {h.opportunity} ({h.opportunity.close_date}): {', '.join(missing_fields(h))}\n"
            f"  {outbox.base_url()}{h.get_absolute_url()}"
            for h in items
        ]
        text = (
            f"{len(items)} Sales→CS handoff{'s' if len(items) != 1 else ''} of your accounts "
            "still miss fields the CSM needs for onboarding:\n\n" + "\n".join(lines) + "\n"
        )
        queued += outbox.queue_plain(
            key=f"handoff-missing:{ae.pk}:{today.isoformat()}",
            kind="notification",
            to=[ae.email],
            subject=f"Handoffs to complete: {len(items)}",
            text=text,
        )
    return queued
