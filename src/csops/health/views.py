from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from csops.core import charts
from csops.core.views import require, save_posted_form
from csops.customers.models import Account
from csops.health import selectors
from csops.health.actions import record_health_update
from csops.health.forms import HealthUpdateForm
from csops.health.models import Backtest, ScoreRun


@login_required
@require_POST
def add_health_update(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "change_account")
    account = get_object_or_404(Account, pk=pk)
    return save_posted_form(
        request,
        HealthUpdateForm(request.POST),
        lambda data: record_health_update(account, author=request.user, **data),
        template="health/update_form.html",
        context={"account": account},
        message="Health update saved; CSM sentiment set.",
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    by_segment = selectors.distribution("segment__name")
    chart_rows = [
        {"group": r["label"], "colour": c, "accounts": r[c]}
        for r in by_segment
        for c in ("green", "yellow", "red")
    ]
    adoption = selectors.adoption_by_arr()
    return render(
        request,
        "health/dashboard.html",
        {
            "by_segment": by_segment,
            "by_geo": selectors.distribution("geo__name"),
            "by_csm": selectors.distribution("csm__username", limit=25),
            "segment_chart": charts.bars(
                chart_rows,
                x="accounts",
                y="group",
                color="colour",
                x_title="Accounts",
                title="Health by segment",
            )
            if chart_rows
            else "",
            "adoption": adoption,
            "adoption_chart": charts.bars(
                [{"use cases": a["label"], "share of ARR": round(a["share"] * 100, 1)} for a in adoption],
                x="share of ARR",
                y="use cases",
                x_title="% of ARR",
                y_title="Green use cases",
                title="Platform adoption",
            )
            if adoption
            else "",
            "movers": selectors.movers(),
            "stale": selectors.stale_data(timezone.localdate()),
            "last_run": ScoreRun.objects.first(),
        },
    )


@login_required
def backtest_list(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    return render(request, "health/backtest_list.html", {"backtests": Backtest.objects.all()[:50]})


@login_required
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "view_customers")
    result = get_object_or_404(Backtest, pk=pk)
    report = result.report
    context = {"backtest": result, "report": report}
    if report.get("population"):
        context["band_chart"] = charts.bars(
            [
                {"band": b["color"], "lost %": round((b["rate"] or 0) * 100, 1), "colour": b["color"]}
                for b in report["bands"]
            ],
            x="lost %",
            y="band",
            color="colour",
            x_title="% lost",
            title="Lost within the horizon, by colour as of the date",
        )
        context["calibration_chart"] = charts.bars(
            [
                {"score": c["bin"], "lost %": round((c["rate"] or 0) * 100, 1)}
                for c in report["calibration"]
                if c["accounts"]
            ],
            x="lost %",
            y="score",
            x_title="% lost",
            y_title="Score",
            title="Calibration: lost by score",
        )
    return render(request, "health/backtest_detail.html", context)
