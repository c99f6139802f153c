from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core.views import require
from csops.customers.models import Account
from csops.health.actions import record_health_update
from csops.health.forms import HealthUpdateForm


@login_required
@require_POST
def add_health_update(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "change_account")
    account = get_object_or_404(Account, pk=pk)
    form = HealthUpdateForm(request.POST)
    if not form.is_valid():
        return render(request, "health/update_form.html", {"form": form, "account": account}, status=400)
    record_health_update(account, author=request.user, **form.cleaned_data)
    messages.success(request, "Health update saved; CSM sentiment set.")
    return redirect(f"{account.get_absolute_url()}#sentiment")
