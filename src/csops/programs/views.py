from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core.permissions import has_perm
from csops.core.views import require
from csops.customers.models import Account
from csops.programs import selectors
from csops.programs.actions import enrol_accounts
from csops.programs.forms import EnrolForm, PreviewForm
from csops.programs.models import EmailTemplate, Program


@login_required
def program_list(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(request, "programs/program_list.html", {"programs": selectors.programs_with_counts()})


def _program_page(request: HttpRequest, program: Program, form: EnrolForm | None = None, status: int = 200):
    context = {
        "program": program,
        "can_enrol": has_perm(request.user, "manage_programs"),
        "enrol_form": form or EnrolForm(),
        **selectors.program_results(program),
    }
    return render(request, "programs/program_detail.html", context, status=status)


@login_required
def program_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    return _program_page(request, get_object_or_404(Program, pk=pk))


@login_required
@require_POST
def enrol(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "manage_programs")
    program = get_object_or_404(Program, pk=pk)
    form = EnrolForm(request.POST)
    if not form.is_valid():
        return _program_page(request, program, form, status=400)
    outcome = enrol_accounts(program, form.account_ids(), source="manual", source_ref=str(request.user))
    messages.success(request, f"{program.name}: {outcome}.")
    return redirect(program)


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(request, "programs/template_list.html", {"templates": EmailTemplate.objects.all()})


@login_required
def template_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The template rendered for a real account's program recipient (links shown untracked)."""
    require(request, "view_customers")
    template = get_object_or_404(EmailTemplate, pk=pk)
    form = PreviewForm(request.GET or None)
    account = form.cleaned_data["account"] if form.is_valid() else None
    if account is None and not request.GET:
        account = Account.objects.filter(contacts__persona__name="GitLab Admin").order_by("pk").first()
    preview = selectors.preview(template, account) if account else None
    status = 400 if request.GET and not form.is_valid() else 200
    return render(
        request,
        "programs/template_preview.html",
        {"template": template, "form": form, "account": account, "preview": preview},
        status=status,
    )
