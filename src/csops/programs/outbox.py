"""The outbox: every email is a row first, then the worker delivers it over SMTP, at most once.

Queueing is idempotent (a unique key per message). Delivery claims one message at a time by
stamping `attempt_at` in its own transaction before talking to the server, and records the
outcome right after; a worker killed between the two leaves the stamp, and such a message is
never sent again (it is marked "unknown" once the stamp is stale). Transient refusals are retried
with back-off; a permanent refusal of the recipient is a bounce.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import smtplib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from csops.core.bulk import insert_rows
from csops.programs.merge import URL, render
from csops.programs.models import MessageStatus, OutboxMessage, new_public_id

log = logging.getLogger(__name__)

TRACK_SALT = "csops.programs.track"
UNSUBSCRIBE_SALT = "csops.programs.unsubscribe"
BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)  # then the message fails
HREF = re.compile(r'href="(https?://[^"]+)"')


# --- links ------------------------------------------------------------------------------------


def base_url() -> str:
    return settings.CSOPS_BASE_URL.rstrip("/")


def _sign(value: Any, salt: str) -> str:
    # No timestamp: these links never expire, and a message's links are the same each time it is made.
    return signing.Signer(salt=salt).sign_object(value, compress=True)


def tracked_url(public_id: str, name: str, url: str) -> str:
    return f"{base_url()}/t/{_sign([public_id, name, url], TRACK_SALT)}/"


def open_url(public_id: str) -> str:
    return f"{base_url()}/o/{_sign(public_id, TRACK_SALT)}/"


def unsubscribe_url(public_id: str) -> str:
    return f"{base_url()}/u/{_sign(public_id, UNSUBSCRIBE_SALT)}/"


def read_token(token: str, salt: str) -> Any:
    """The signed value, or None for a token that was not made here (or was altered). Links made
    before they lost their timestamp still read."""
    for read in (signing.Signer(salt=salt).unsign_object, lambda t: signing.loads(t, salt=salt)):
        try:
            return read(token)
        except (signing.BadSignature, ValueError):
            continue
    return None


def redact_personal_links(body: str) -> str:
    """The body as staff may read it: a survey link answers as the contact and an unsubscribe link
    opts them out, so neither is shown (a signed token is readable, not secret)."""
    ours = re.escape(base_url())

    def hide(match: re.Match) -> str:
        kind, token = match.group(1), match.group(2)
        if kind == "u":
            return "[unsubscribe link, hidden]"
        value = read_token(token, TRACK_SALT)
        return "[survey link, hidden]" if isinstance(value, list) and value[1] == "survey" else match.group(0)

    return re.sub(rf"{ours}/(t|u)/([^/\s\"'<>]+)/", hide, body)


def _track_other_links(text: str, html: str, public_id: str) -> tuple[str, str]:
    """Track links the template wrote itself (not merge fields, which are tracked already)."""
    ours = base_url()

    def wrap(url: str) -> str:
        return url if url.startswith(ours) else tracked_url(public_id, "link", url)

    text = URL.sub(lambda m: wrap(m.group(0)), text)
    html = HREF.sub(lambda m: f'href="{wrap(m.group(1))}"', html)
    return text, html


# --- composing and queueing --------------------------------------------------------------------


@dataclass
class Draft:
    """One message to queue; `links` are the named links the template may use (tracked)."""

    key: str
    kind: str
    to: str
    template: Any
    context: dict[str, Any]
    links: dict[str, str] = field(default_factory=dict)
    cc: list[str] = field(default_factory=list)
    reply_to: str = ""
    unsubscribe: bool = True
    refs: dict[str, Any] = field(default_factory=dict)  # account_id, contact_id, enrolment_id, step, cta_id


def compose(draft: Draft) -> dict[str, Any]:
    """The row for a draft: rendered for its recipient, links tracked, unsubscribe link added."""
    public_id = new_public_id()
    context = dict(draft.context)
    for name, url in draft.links.items():
        context[f"{name}_link"] = tracked_url(public_id, name, url) if url else ""
    context["unsubscribe_link"] = unsubscribe_url(public_id) if draft.unsubscribe else ""
    rendered = render(draft.template, context)
    text, html = _track_other_links(rendered.text, rendered.html, public_id)
    if draft.unsubscribe and "unsubscribe_link" not in draft.template.text:
        text += f"\nTo stop these emails: {context['unsubscribe_link']}\n"
        html += f'\n<p><small><a href="{context["unsubscribe_link"]}">Unsubscribe</a></small></p>'
    html += f'\n<img src="{open_url(public_id)}" alt="" width="1" height="1">'
    return {
        "key": draft.key[:255],
        "public_id": public_id,
        "kind": draft.kind,
        "to": draft.to,
        "cc": draft.cc,
        "reply_to": draft.reply_to,
        "subject": rendered.subject[:300],
        "text": text,
        "html": html,
        "status": MessageStatus.QUEUED,
        "next_attempt_at": timezone.now(),
        **draft.refs,
    }


def queue(drafts: Iterable[Draft]) -> list[tuple[int, str]]:
    """Queue messages; a key already queued is left alone. Returns (id, key) of the new ones."""
    return insert_rows(
        OutboxMessage, [compose(d) for d in drafts], skip_conflicts_on="key", returning=("id", "key")
    )


def queue_plain(*, key: str, kind: str, to: list[str], subject: str, text: str) -> int:
    """An internal message (a notification, an alert) to people who work here: no tracking."""
    rows = [
        {
            "key": f"{key}:{address}"[:255],
            "kind": kind,
            "to": address,
            "subject": subject[:300],
            "text": text,
            "status": MessageStatus.QUEUED,
            "next_attempt_at": timezone.now(),
        }
        for address in to
    ]
    return len(insert_rows(OutboxMessage, rows, skip_conflicts_on="key", returning=("id",)))


# --- delivery ------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    unknown: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        parts = [f"{self.sent} sent"]
        parts += [
            f"{n} {label}"
            for label, n in (
                ("to retry", self.retried),
                ("failed", self.failed),
                ("bounced", self.bounced),
                ("unknown", self.unknown),
            )
            if n
        ]
        return ", ".join(parts) + f" in {self.seconds:.1f}s"


def _connect() -> smtplib.SMTP:
    host, port, timeout = settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT
    if settings.EMAIL_USE_SSL:
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout)
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
        if settings.EMAIL_USE_TLS:
            server.starttls()
    if settings.EMAIL_HOST_USER:
        server.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
    return server


def _mime(message: OutboxMessage) -> tuple[list[str], bytes]:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        cc=message.cc,
        reply_to=[message.reply_to] if message.reply_to else None,
        headers={"Message-ID": message.message_id},
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    if message.kind not in ("notification", "alert", "event"):  # event: what the registrant asked for
        email.extra_headers["List-Unsubscribe"] = f"<{unsubscribe_url(message.public_id)}>"
        email.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email.recipients(), email.message().as_bytes(linesep="\r\n")  # SMTP lines end in CRLF


def _claim(message: OutboxMessage, now: dt.datetime) -> bool:
    """Stamp the attempt before sending, committed (one statement in autocommit: one round trip);
    False if another worker has it."""
    claimed = OutboxMessage.objects.filter(
        pk=message.pk, status=MessageStatus.QUEUED, attempt_at__isnull=True
    ).update(attempt_at=now)
    message.attempt_at = now
    return bool(claimed)


def _record(message: OutboxMessage, status: str, error: str = "", *, retry: bool = False) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {"attempt_at": None, "attempts": message.attempts + 1, "last_error": error[:500]}
    if retry and message.attempts + 1 <= len(BACKOFF_SECONDS):
        fields |= {"next_attempt_at": now + dt.timedelta(seconds=BACKOFF_SECONDS[message.attempts])}
    elif retry:
        fields |= {"status": MessageStatus.FAILED}
    else:
        fields |= {"status": status, "sent_at": now if status == MessageStatus.SENT else None}
    fields["message_id"] = message.message_id
    OutboxMessage.objects.filter(pk=message.pk).update(**fields)


def _refusal(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    return f"{exc.smtp_code} {error}"


def _send_one(server: smtplib.SMTP, message: OutboxMessage, report: DeliveryReport) -> bool:
    """Deliver one claimed message; False when the connection is gone (reconnect, then go on).

    The envelope goes first (MAIL, RCPT): until DATA the server holds nothing, so a failure there
    is safe to retry. Once DATA is under way the message may arrive whatever we hear back, so a
    lost connection then leaves the attempt stamped and the message is not sent again.
    """
    message.message_id = message.message_id or make_msgid(domain="csops.local")
    recipients, data = _mime(message)
    try:
        server.ehlo_or_helo_if_needed()
        code, reply = server.mail(settings.DEFAULT_FROM_EMAIL)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, settings.DEFAULT_FROM_EMAIL)
        refused = {}
        for recipient in recipients:
            code, reply = server.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, reply)
        if len(refused) == len(recipients):
            server.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
    except smtplib.SMTPRecipientsRefused as exc:
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        detail = "; ".join(f"{r}: {c} {m.decode(errors='replace')}" for r, (c, m) in exc.recipients.items())
        _record(message, MessageStatus.BOUNCED, detail, retry=not permanent)
        report.bounced += permanent
        report.retried += not permanent
        return True
    except smtplib.SMTPResponseException as exc:
        permanent = exc.smtp_code >= 500
        _record(message, MessageStatus.FAILED, _refusal(exc), retry=not permanent)
        report.failed += permanent
        report.retried += not permanent
        return True
    except (OSError, smtplib.SMTPException) as exc:
        # Nothing was handed over: try later, without counting an attempt against the message.
        _postpone([message.pk], f"SMTP connection lost before DATA: {exc}", claimed=True)
        report.retried += 1
        return False
    try:
        code, reply = server.data(data)
        if code != 250:  # smtplib returns the final reply to DATA rather than raising on it
            raise smtplib.SMTPDataError(code, reply)
    except smtplib.SMTPResponseException as exc:
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            raise
        permanent = exc.smtp_code >= 500  # the server said no: it does not have the message
        _record(message, MessageStatus.FAILED, _refusal(exc), retry=not permanent)
        report.failed += permanent
        report.retried += not permanent
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("SMTP connection lost while sending message %s: %s", message.pk, exc)
        return False
    detail = "; ".join(f"{r}: {c}" for r, (c, _) in refused.items())
    _record(message, MessageStatus.SENT, f"some recipients refused: {detail}" if refused else "")
    report.sent += 1
    return True


def mark_stale_attempts(now: dt.datetime) -> int:
    """Messages a worker began and never finished: they may have arrived, so they are not retried."""
    stale = now - dt.timedelta(seconds=settings.CSOPS_OUTBOX_STALE_SECONDS)
    return OutboxMessage.objects.filter(status=MessageStatus.QUEUED, attempt_at__lt=stale).update(
        status=MessageStatus.UNKNOWN,
        last_error="The worker stopped while sending; not sent again, to avoid a duplicate.",
    )


def deliver(*, limit: int | None = None, batch: int = 500) -> DeliveryReport:
    """Send what is due, oldest first, over one SMTP connection (reopened if it drops)."""
    started = time.monotonic()
    report = DeliveryReport(unknown=mark_stale_attempts(timezone.now()))
    server: smtplib.SMTP | None = None
    fresh, done = False, 0
    try:
        while limit is None or done < limit:
            now = timezone.now()
            due = list(
                OutboxMessage.objects.filter(
                    status=MessageStatus.QUEUED, attempt_at__isnull=True, next_attempt_at__lte=now
                ).order_by("next_attempt_at", "pk")[: min(batch, limit - done) if limit else batch]
            )
            if not due:
                break
            for position, message in enumerate(due):
                if server is None:
                    try:
                        server, fresh = _connect(), True
                    except (OSError, smtplib.SMTPException) as exc:
                        _postpone([m.pk for m in due[position:]], f"cannot reach the SMTP server: {exc}")
                        report.retried += len(due) - position
                        return _finish(report, started)
                if not _claim(message, now):
                    continue
                done += 1
                if _send_one(server, message, report):
                    fresh = False
                    continue
                _quit(server)
                server = None
                if fresh:  # a new connection lost at once: the server is not taking mail now
                    _postpone([m.pk for m in due[position + 1 :]], "the SMTP server dropped a new connection")
                    report.retried += len(due) - position - 1
                    return _finish(report, started)
    finally:
        _quit(server)
    return _finish(report, started)


def _postpone(pks: list[int], error: str, *, claimed: bool = False) -> None:
    """Nothing was handed over: try again later without counting an attempt against the messages."""
    unclaimed = {} if claimed else {"attempt_at__isnull": True}
    OutboxMessage.objects.filter(pk__in=pks, status=MessageStatus.QUEUED, **unclaimed).update(
        attempt_at=None,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=BACKOFF_SECONDS[0]),
        last_error=error[:500],
    )


def _quit(server: smtplib.SMTP | None) -> None:
    if server is not None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            server.quit()


def _finish(report: DeliveryReport, started: float) -> DeliveryReport:
    report.seconds = time.monotonic() - started
    return report
