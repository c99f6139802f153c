from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from csops.cockpit.models import Cta
from csops.core.views import require, save_posted_form
from csops.customers.models import Account
from csops.timeline.actions import log_activity
from csops.timeline.forms import ActivityForm


@login_required
@require_POST
def add_activity(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "log_activity")
    account = get_object_or_404(Account, pk=pk)

    def save(data: dict):
        return log_activity(
            account,
            author=request.user,
            type=data["type"],
            subject=data["subject"],
            date=data["date"],
            notes=data["notes"],
            sentiment=data["sentiment"],
            internal_attendees=[request.user],
            external_attendees=list(data["external_attendees"]),
        )

    return save_posted_form(
        request,
        ActivityForm(request.POST, account=account),
        save,
        template="timeline/activity_form.html",
        context={"account": account},
        message="Activity logged.",
    )


@login_required
@require_POST
def add_cta_activity(request: HttpRequest, pk: int) -> HttpResponse:
    """The CTA page's quick log: an activity on the CTA's account, linked to the CTA."""
    require(request, "log_activity")
    cta = get_object_or_404(Cta.objects.select_related("account"), pk=pk)

    def save(data: dict):
        log_activity(
            cta.account,
            author=request.user,
            type=data["type"],
            subject=data["subject"],
            date=data["date"],
            notes=data["notes"],
            sentiment=data["sentiment"],
            internal_attendees=[request.user],
            external_attendees=list(data["external_attendees"]),
            cta=cta,
        )
        return cta  # back to the CTA page, where the activity now shows

    return save_posted_form(
        request,
        ActivityForm(request.POST, account=cta.account),
        save,
        template="timeline/activity_form.html",
        context={"account": cta.account, "cta": cta, "form_action": request.path},
        message="Activity logged.",
    )
