"""Tracked links, the open pixel and unsubscribing: reached from emails, no login, no JavaScript."""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from csops.programs import actions
from csops.programs.models import OutboxMessage
from csops.programs.outbox import TRACK_SALT, UNSUBSCRIBE_SALT, read_token

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "programs/public_message.html",
        {
            "title": "This link is not valid",
            "text": "The link may have been copied incompletely. Please use the link in your email.",
        },
        status=404,
    )


def follow_link(request: HttpRequest, token: str) -> HttpResponse:
    """Record the click, then go where the link points."""
    value = read_token(token, TRACK_SALT)
    if not (
        isinstance(value, list) and len(value) == 3 and str(value[2]).startswith(("http://", "https://"))
    ):
        return _invalid(request)
    public_id, name, url = value
    actions.record_click(public_id, name, url)
    return HttpResponseRedirect(url)


def opened(request: HttpRequest, token: str) -> HttpResponse:
    public_id = read_token(token, TRACK_SALT)
    if isinstance(public_id, str):
        actions.record_open(public_id)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # mail clients' one-click unsubscribe (RFC 8058) posts without a CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (a link scanner must not unsubscribe anyone); POST unsubscribes."""
    public_id = read_token(token, UNSUBSCRIBE_SALT)
    message = (
        OutboxMessage.objects.select_related("contact").filter(public_id=public_id).first()
        if isinstance(public_id, str)
        else None
    )
    if message is None or message.contact is None:
        return _invalid(request)
    if request.method == "POST":
        actions.unsubscribe(message)
        return render(
            request,
            "programs/public_message.html",
            {
                "title": "You are unsubscribed",
                "text": f"We will not send {message.contact.email} these emails any more.",
            },
        )
    return render(request, "programs/unsubscribe.html", {"message": message, "token": token})
