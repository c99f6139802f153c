from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from csops.core.views import require
from csops.programs import selectors
from csops.programs.models import Program


@login_required
def program_list(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(request, "programs/program_list.html", {"programs": selectors.programs_with_counts()})


@login_required
def program_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    program = get_object_or_404(Program, pk=pk)
    context = {"program": program, **selectors.program_results(program)}
    return render(request, "programs/program_detail.html", context)
