"""Email assist on a CTA's page: the form's choices, and its post."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from csops.cockpit import selectors as cockpit_selectors
from csops.cockpit.models import Cta
from csops.core.permissions import has_perm
from csops.core.views import require
from csops.customers.models import Contact
from csops.programs.assist import FOLLOW_UP_TEMPLATE, SURVEY, send_assist_email
from csops.programs.models import EmailTemplate, OutboxMessage, Survey

FIELD_LABELS = {"template": "Template", "contacts": "Recipients", "deploy_survey": "Survey"}


def assist_context(request: HttpRequest, cta: Cta) -> dict:
    """What the CTA page shows of email assist: the emails sent from the CTA, and the form to send
    one (templates, the account's contacts with the opted-out ones disabled) for who works CTAs."""
    context: dict = {
        "assist_sent": list(
            OutboxMessage.objects.filter(cta=cta).only("pk", "subject", "to", "status", "created_at")
        )
    }
    if has_perm(request.user, "work_ctas"):
        templates = list(EmailTemplate.objects.only("pk", "name"))
        context["assist"] = {
            "templates": templates,
            "default_template": next((t.pk for t in templates if t.name == FOLLOW_UP_TEMPLATE), None),
            "contacts": list(Contact.objects.filter(account_id=cta.account_id).order_by("last_name", "pk")),
            "survey": SURVEY if Survey.objects.filter(name=SURVEY).exists() else None,
        }
    return context


def _template(raw: str | None) -> EmailTemplate | None:
    if not raw:
        return None
    if not raw.isdigit() or (template := EmailTemplate.objects.filter(pk=int(raw)).first()) is None:
        raise ValidationError({"template": f"There is no email template {raw!r}."})
    return template


def _contacts(raw: list[str]) -> list[Contact]:
    bad = [value for value in raw if not value.isdigit()]
    if bad:
        raise ValidationError({"contacts": f"{bad[0]!r} is not a contact."})
    ids = [int(value) for value in raw]
    found = Contact.objects.in_bulk(ids)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({"contacts": f"There is no contact {missing[0]}."})
    return [found[pk] for pk in ids]


@login_required
@require_POST
def assist_email(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "work_ctas")
    try:
        cta = cockpit_selectors.cta_page(pk)
    except ObjectDoesNotExist:
        raise Http404("No such CTA.") from None
    try:
        result = send_assist_email(
            cta,
            actor=request.user,
            template=_template(request.POST.get("template")),
            contacts=_contacts(request.POST.getlist("contacts")),
            deploy_survey=request.POST.get("deploy_survey") == "1",
        )
    except ValidationError as exc:
        from csops.cockpit.views import cta_page_context

        context = cta_page_context(request, cta)
        context["assist_errors"] = [
            f"{FIELD_LABELS.get(name, name)}: {' '.join(texts)}" for name, texts in exc.message_dict.items()
        ]
        context["assist_posted"] = {
            "template": request.POST.get("template", ""),
            "contacts": request.POST.getlist("contacts"),
            "deploy_survey": request.POST.get("deploy_survey") == "1",
        }
        return render(request, "cockpit/cta_detail.html", context, status=400)
    messages.success(request, str(result))
    return redirect(reverse("cockpit:cta_detail", args=[cta.pk]) + "#assist")
