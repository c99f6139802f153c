"""The survey page a contact reaches from an invitation (no login, no JavaScript) and the results
dashboard."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from csops.core.views import require
from csops.programs import survey_selectors, surveys
from csops.programs.models import SurveyInvitation, SurveyKind

SCALE_ENDS = {
    SurveyKind.NPS: ("Not at all likely", "Extremely likely"),
    SurveyKind.CSAT: ("Very dissatisfied", "Very satisfied"),
}
REFUSALS = {
    surveys.InvalidToken: (
        404,
        "This survey link is not valid",
        "The link may have been copied incompletely. Please use the link in your email.",
    ),
    surveys.AlreadyAnswered: (
        410,
        "This survey has already been answered",
        "We have your answer. Thank you!",
    ),
    surveys.SurveyClosed: (
        410,
        "This survey has closed",
        "Answers are no longer taken for this survey. Thank you for your interest.",
    ),
}
WHOLE_NUMBER = re.compile(r"[0-9]{1,2}")


def _refused(request: HttpRequest, error: surveys.SurveyError) -> HttpResponse:
    status, title, text = REFUSALS[type(error)]
    return render(request, "programs/survey_closed.html", {"title": title, "text": text}, status=status)


def _form(
    request: HttpRequest, invitation: SurveyInvitation, *, score=None, comment: str = "", error=None
) -> HttpResponse:
    survey = invitation.survey
    low, high = SCALE_ENDS[survey.kind]
    return render(
        request,
        "programs/survey_form.html",
        {
            "survey": survey,
            "scores": list(surveys.score_range(survey.kind)),
            "low_label": low,
            "high_label": high,
            "chosen": score,
            "comment": comment,
            "comment_max": surveys.COMMENT_MAX,
            "error": error,
        },
        status=400 if error else 200,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the question; POST: the answer, then the survey's thank-you text."""
    try:
        invitation = surveys.find_invitation(token)
    except surveys.SurveyError as exc:
        return _refused(request, exc)
    if request.method != "POST":
        return _form(request, invitation)
    raw = request.POST.get("score", "").strip()
    score = int(raw) if WHOLE_NUMBER.fullmatch(raw) else None
    comment = request.POST.get("comment", "")
    try:
        response = surveys.answer(token, score=score, comment=comment)
    except surveys.InvalidAnswer as exc:
        return _form(request, invitation, score=score, comment=comment, error=exc)
    except surveys.SurveyError as exc:
        return _refused(request, exc)
    return render(request, "programs/survey_thanks.html", {"survey": invitation.survey, "response": response})


@login_required
def survey_dashboard(request: HttpRequest) -> HttpResponse:
    require(request, "view_customers")
    period = request.GET.get("period") or "all"
    if period not in survey_selectors.PERIODS:
        choices = ", ".join(survey_selectors.PERIODS)
        return HttpResponse(f"period: choose one of {choices}", status=400, content_type="text/plain")
    return render(
        request,
        "programs/survey_dashboard.html",
        {
            "period": period,
            "periods": survey_selectors.PERIODS,
            **survey_selectors.dashboard(period),
        },
    )
