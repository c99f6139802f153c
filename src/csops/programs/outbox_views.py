"""The outbox pages: every email csops sent or will send, and one message as it went out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from csops.core.models import AuditEntry
from csops.core.permissions import has_perm
from csops.core.tables import Column
from csops.core.views import ObjectListView, require
from csops.programs.actions import CUSTOMER_KINDS
from csops.programs.delivery_actions import RETRYABLE, retry_messages
from csops.programs.models import OutboxMessage
from csops.programs.outbox import redact_personal_links
from csops.programs.outbox_filtersets import OutboxFilterSet


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


class OutboxListView(ObjectListView):
    """Newest first; `id` stands for the queueing time (the primary key index serves the order)."""

    queryset = OutboxMessage.objects.select_related("account")
    filterset_class = OutboxFilterSet
    title = "Outbox"
    export_name = "outbox"
    default_sort = "-id"
    columns = [
        Column("subject", "Subject", sort="subject", link=True),
        Column("to", "To", sort="to"),
        Column("kind", "Kind", sort="kind"),
        Column("get_status_display", "Status", sort="status"),
        Column("account", "Account"),
        Column("attempts", "Attempts", sort="attempts", numeric=True),
        Column("created_at", "Queued", sort="id", display=_when),
        Column("sent_at", "Sent", sort="sent_at", display=_when),
        Column("last_error", "Last error"),
    ]


@login_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Its headers, what became of it, what the recipient did with it, and both parts as text:
    the HTML part is shown as its source, never rendered."""
    require(request, "view_customers")
    message = get_object_or_404(
        OutboxMessage.objects.select_related("account", "contact", "enrolment__program", "cta"), pk=pk
    )
    headers = [
        ("From", settings.DEFAULT_FROM_EMAIL),
        ("To", message.to),
        ("Cc", ", ".join(message.cc)),
        ("Reply-To", message.reply_to),
        ("Subject", message.subject),
        ("Message-ID", message.message_id),
    ]
    if message.kind in CUSTOMER_KINDS:
        headers += [
            ("List-Unsubscribe", "<[unsubscribe link, hidden]>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
    history = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(OutboxMessage), object_id=str(message.pk)
    ).select_related("actor")
    return render(
        request,
        "programs/outbox_detail.html",
        {
            "message": message,
            "text": redact_personal_links(message.text),
            "html": redact_personal_links(message.html),
            "headers": [(name, value) for name, value in headers if value],
            "events": list(message.events.all()),
            "history": list(history),
            "can_retry": message.status in RETRYABLE and has_perm(request.user, "manage_config"),
        },
    )


@login_required
@require_POST
def retry_message(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "manage_config")
    message = get_object_or_404(OutboxMessage, pk=pk)
    try:
        report = retry_messages([message.pk], actor=request.user)
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    else:
        if report.skipped:
            messages.error(request, f"Not queued again: {report.skipped[message.pk]}.")
        else:
            messages.success(request, "Queued again: the worker sends it on its next pass.")
    return redirect(message)
