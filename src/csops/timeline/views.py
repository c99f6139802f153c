from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core.views import require
from csops.customers.models import Account
from csops.timeline.actions import log_activity
from csops.timeline.forms import ActivityForm


@login_required
@require_POST
def add_activity(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "log_activity")
    account = get_object_or_404(Account, pk=pk)
    form = ActivityForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        try:
            log_activity(
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
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Logged {data['type']}: {data['subject']}.")
            return redirect(f"{account.get_absolute_url()}#timeline")
    return render(request, "timeline/activity_form.html", {"form": form, "account": account}, status=400)
