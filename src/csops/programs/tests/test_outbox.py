"""The outbox against real SMTP servers on loopback (aiosmtpd): what arrives, tracked links and
unsubscribing, retries, bounces, a worker killed mid-send, the `csops outbox` command and pages."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import io
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from csops.conftest import Inbox, free_port
from csops.core.models import AuditEntry, Role, User
from csops.customers.models import Account, Contact, Geo, Segment
from csops.programs import outbox
from csops.programs.actions import enrol_contacts
from csops.programs.delivery_actions import retry_messages
from csops.programs.models import (
    CseAssignment,
    EmailTemplate,
    Enrolment,
    EnrolmentState,
    MessageStatus,
    OutboxMessage,
    Program,
    TrackingEvent,
)
from csops.programs.runner import advance

CALENDLY = "https://calendly.com/casey-engineer/30min"
CHECK_IN = {
    "subject": "{{ account.name }}: 30 minutes with {{ cse.name }}?",
    "text": (
        "Hi {{ contact.first_name }},\n\n"
        "I am {{ cse.name }}, the customer success engineer for {{ account.name }}.\n"
        "Book a time that suits you: {{ calendly_link }}\n\n"
        "Not for you? {{ unsubscribe_link }}\n"
    ),
}


# --- a small book: one account, its contacts, the CSE of its segment and geo --------------------


@pytest.fixture
def book(users):
    scale, amer = Segment.objects.get(name="Scale"), Geo.objects.get(name="AMER")
    cse = User.objects.create(
        username="casey", first_name="Casey", last_name="Engineer", email="casey@ours.example", role=Role.CSM
    )
    CseAssignment.objects.update_or_create(
        segment=scale, geo=amer, defaults={"name": "Scale AMER", "cse": cse, "calendly_url": CALENDLY}
    )
    account = Account.objects.create(
        external_id="A-1", name="Acme Rockets", segment=scale, geo=amer, csm=users["csm"]
    )
    ada = Contact.objects.create(
        external_id="C-1", account=account, first_name="Ada", last_name="Lovelace", email="ada@acme.example"
    )
    bob = Contact.objects.create(
        external_id="C-2", account=account, first_name="Bob", last_name="Byron", email="bob@acme.example"
    )
    EmailTemplate.objects.create(name="Check-in test", **CHECK_IN)
    Program.objects.create(name="Check-in journey", steps=[{"send": "Check-in test"}])
    Program.objects.create(name="Long journey", steps=[{"wait": {"days": 30}}, {"send": "Check-in test"}])
    return {"account": account, "ada": ada, "bob": bob, "cse": cse}


def journey_email(contact: Contact, program: str = "Check-in journey") -> OutboxMessage:
    """Queue the journey's email to the contact the way programs do: enrolment, then the runner."""
    enrol_contacts(
        program_name=program,
        rows=[{"account_id": contact.account_id, "contact_id": contact.pk, "key": f"{program}:{contact.pk}"}],
        source_ref="test",
    )
    advance()
    return OutboxMessage.objects.get(contact=contact, enrolment__program__name=program)


def CHECK_IN_TEMPLATE() -> EmailTemplate:
    return EmailTemplate.objects.get(name="Check-in test")


def plain(n: int, *, kind: str = "notification", prefix: str = "m") -> list[OutboxMessage]:
    for i in range(n):
        address = f"{prefix}{i}@ours.example"
        outbox.queue_plain(key=f"{prefix}{i}", kind=kind, to=[address], subject=f"{prefix} {i}", text="Hi.")
    return list(OutboxMessage.objects.filter(key__startswith=prefix).order_by("pk"))


def parsed(raw: str) -> email.message.EmailMessage:
    return email.message_from_string(raw, policy=email.policy.default)


def path_of(url: str) -> str:
    assert url.startswith(django_settings.CSOPS_BASE_URL), url
    return urlsplit(url).path


def due_now(*messages: OutboxMessage) -> None:
    """Move the clock: the messages' back-off is over."""
    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(next_attempt_at=timezone.now())


# --- what the server receives --------------------------------------------------------------------


def test_the_server_receives_the_merged_email_with_tracked_links_and_unsubscribe_headers(
    book, smtp_server, client
):
    message = journey_email(book["ada"])
    report = outbox.deliver()
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    (recipients, raw), = smtp_server.messages
    assert recipients == ["ada@acme.example"]
    received = parsed(raw)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.sent_at and message.attempts == 1
    assert received["Subject"] == "Acme Rockets: 30 minutes with Casey Engineer?"
    assert received["To"] == "ada@acme.example" and received["Reply-To"] == "casey@ours.example"
    assert received["Message-ID"] == message.message_id
    unsubscribe = outbox.unsubscribe_url(message.public_id)
    assert received["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # folded: a long line
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Hi Ada," in text and "the customer success engineer for Acme Rockets" in text
    assert "I am Casey Engineer" in text and unsubscribe in text
    assert CALENDLY not in text and CALENDLY not in html  # only the tracked link
    tracked = next(w for w in text.split() if "/t/" in w)
    assert f'<a href="{tracked}">' in html and f'<a href="{unsubscribe}">' in html
    pixel = outbox.open_url(message.public_id)
    assert f'<img src="{pixel}" alt="" width="1" height="1">' in html

    click = client.get(path_of(tracked))
    assert click.status_code == 302 and click["Location"] == CALENDLY
    event = TrackingEvent.objects.get(message=message)
    assert (event.kind, event.link, event.url) == ("click", "calendly", CALENDLY)
    opened = client.get(path_of(pixel))
    assert opened.status_code == 200 and opened["Content-Type"] == "image/gif"
    assert opened["Cache-Control"] == "no-store"
    assert message.events.filter(kind="open").count() == 1
    assert client.get(path_of(tracked)[:-3] + "xx/").status_code == 404  # an altered link
    assert message.events.count() == 2


def test_unsubscribing_asks_first_then_stops_everything_for_that_contact(book, smtp_server):
    ada, bob = book["ada"], book["bob"]
    first = journey_email(ada)
    outbox.deliver()
    waiting = Enrolment.objects.create(
        program=Program.objects.get(name="Long journey"), account=ada.account, contact=ada, key="long:ada"
    )
    queued = outbox.queue([
        outbox.Draft(key="later:ada", kind="program", to=ada.email, template=CHECK_IN_TEMPLATE(),
                     context={}, refs={"contact_id": ada.pk, "account_id": ada.account_id}),
        outbox.Draft(key="later:bob", kind="program", to=bob.email, template=CHECK_IN_TEMPLATE(),
                     context={}, refs={"contact_id": bob.pk, "account_id": bob.account_id}),
    ])
    assert len(queued) == 2
    internal = outbox.queue_plain(key="alert", kind="alert", to=[ada.email], subject="Internal", text="x")
    assert internal == 1

    strict = Client(enforce_csrf_checks=True)  # one-click unsubscribe posts come without a CSRF token
    url = path_of(outbox.unsubscribe_url(first.public_id))
    page = strict.get(url)
    assert page.status_code == 200 and "ada@acme.example" in page.content.decode()
    assert '<form method="post"' in page.content.decode()
    ada.refresh_from_db()
    assert not ada.email_opt_out and not TrackingEvent.objects.filter(kind="unsubscribe").exists()

    done = strict.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    ada.refresh_from_db()
    assert ada.email_opt_out
    statuses = dict(OutboxMessage.objects.values_list("key", "status"))
    assert statuses["later:ada"] == MessageStatus.CANCELLED and statuses["later:bob"] == MessageStatus.QUEUED
    assert statuses[f"alert:{ada.email}"] == MessageStatus.QUEUED  # internal mail is not the contact's
    assert statuses[first.key] == MessageStatus.SENT
    waiting.refresh_from_db()
    assert (waiting.state, waiting.exit_reason) == (EnrolmentState.EXITED, "unsubscribed")
    assert first.events.filter(kind="unsubscribe").count() == 1
    assert strict.post(url).status_code == 200  # again: nothing more
    assert first.events.filter(kind="unsubscribe").count() == 1
    outbox.deliver()
    # the first email, the internal alert to the same address, and Bob's: Ada's later one is cancelled
    assert sorted(r[0] for r, _ in smtp_server.messages) == ["ada@acme.example"] * 2 + ["bob@acme.example"]

    tampered = url.replace(url.rstrip("/").rsplit(":", 1)[-1], "forged")
    for bad in (tampered, "/u/not-a-token/"):
        response = strict.get(bad)
        assert response.status_code == 404 and "This link is not valid" in response.content.decode()
        assert strict.post(bad).status_code == 404


def test_queueing_is_idempotent(book):
    template = EmailTemplate.objects.get(name="Check-in test")
    draft = outbox.Draft(key="once", kind="program", to="ada@acme.example", template=template, context={})
    first = outbox.queue([draft])
    assert len(first) == 1
    assert outbox.queue([draft, draft]) == []
    assert OutboxMessage.objects.filter(key="once").count() == 1
    assert outbox.queue_plain(key="n", kind="notification", to=["a@x.example"], subject="s", text="t") == 1
    assert outbox.queue_plain(key="n", kind="notification", to=["a@x.example"], subject="s", text="t") == 0
    # Two recipients at once: each message gets its own public id (a batch used to share one).
    assert outbox.queue_plain(key="m", kind="notification", to=["a@x.example", "b@x.example"], subject="s",
                              text="t") == 2
    journey_email(book["ada"])
    advance()  # the runner again: the step is not queued twice
    assert OutboxMessage.objects.filter(contact=book["ada"]).count() == 1


# --- refusals, retries and bounces ----------------------------------------------------------------


class Server:
    """An aiosmtpd server on loopback whose DATA replies can be scripted, pointed at by the outbox."""

    def __init__(self, settings, handler: Inbox):
        from aiosmtpd.controller import Controller

        self.handler = handler
        self.controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.controller.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""

    def stop(self) -> None:
        self.controller.stop()


class ScriptedInbox(Inbox):
    """Replies to DATA from `data_replies` in turn (then 250); can drop the connection at MAIL."""

    def __init__(self):
        super().__init__()
        self.data_replies: list[str] = []
        self.drop_at_mail = False

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.drop_at_mail:
            server.transport.close()
            return "421 going away"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def scripted(settings):
    server = Server(settings, ScriptedInbox())
    yield server.handler
    server.stop()


def test_a_transient_refusal_is_retried_after_its_back_off_then_sent(db, smtp_server):
    message, = plain(1)
    smtp_server.refuse[message.to] = "451 Greylisted, try again later"
    before = timezone.now()
    report = outbox.deliver()
    assert (report.sent, report.retried) == (0, 1)
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1 and message.attempt_at is None
    assert "451 Greylisted" in message.last_error
    wait = (message.next_attempt_at - before).total_seconds()
    assert outbox.BACKOFF_SECONDS[0] <= wait < outbox.BACKOFF_SECONDS[0] + 5
    del smtp_server.refuse[message.to]
    assert outbox.deliver().sent == 0  # not before its time
    due_now(message)
    assert outbox.deliver().sent == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2
    assert [r for r, _ in smtp_server.messages] == [[message.to]]


def test_the_back_off_grows_and_the_last_attempt_fails_the_message(db, smtp_server):
    message, = plain(1)
    smtp_server.refuse[message.to] = "421 Too busy"
    waits = []
    for attempt in range(1, len(outbox.BACKOFF_SECONDS) + 1):
        before = timezone.now()
        assert outbox.deliver().retried == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (MessageStatus.QUEUED, attempt)
        waits.append((message.next_attempt_at - before).total_seconds())
        due_now(message)
    assert all(b > a for a, b in itertools.pairwise(waits)) and waits[-1] >= 6 * 3600 - 5
    assert [round(w, -1) for w in waits] == [float(s) for s in outbox.BACKOFF_SECONDS]
    report = outbox.deliver()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, len(outbox.BACKOFF_SECONDS) + 1)
    assert "421 Too busy" in message.last_error and report.retried == 1
    due_now(message)
    assert outbox.deliver().retried == 0 and smtp_server.messages == []  # failed is final


def test_a_permanent_refusal_at_rcpt_is_a_bounce(db, smtp_server):
    gone, ok = plain(2)
    smtp_server.refuse[gone.to] = "550 No such user here"
    report = outbox.deliver()
    assert (report.sent, report.bounced, report.retried) == (1, 1, 0)
    gone.refresh_from_db()
    assert (gone.status, gone.attempts, gone.sent_at) == (MessageStatus.BOUNCED, 1, None)
    assert gone.last_error == f"{gone.to}: 550 No such user here"
    assert [r for r, _ in smtp_server.messages] == [[ok.to]]
    due_now(gone)
    assert outbox.deliver().bounced == 0  # never tried again


def test_a_permanent_refusal_at_data_fails_and_a_transient_one_is_retried(db, scripted):
    refused, later, fine = plain(3)
    scripted.data_replies = ["554 5.6.0 Message rejected as spam", "452 4.3.1 Insufficient storage"]
    report = outbox.deliver()
    assert (report.sent, report.failed, report.retried) == (1, 1, 1)
    statuses = {m.pk: (m.status, m.attempts, m.last_error) for m in OutboxMessage.objects.all()}
    assert statuses[refused.pk] == (MessageStatus.FAILED, 1, "554 5.6.0 Message rejected as spam")
    assert statuses[later.pk] == (MessageStatus.QUEUED, 1, "452 4.3.1 Insufficient storage")
    assert statuses[fine.pk] == (MessageStatus.SENT, 1, "")
    due_now(refused, later)
    assert outbox.deliver().sent == 1
    assert sorted(r[0] for r, _ in scripted.messages) == sorted([fine.to, later.to])


def test_a_server_that_is_down_postpones_without_counting_an_attempt(db, settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    messages = plain(3)
    before = timezone.now()
    report = outbox.deliver()
    assert (report.sent, report.retried) == (0, 3)
    for message in OutboxMessage.objects.all():
        assert (message.status, message.attempts, message.attempt_at) == (MessageStatus.QUEUED, 0, None)
        assert message.last_error.startswith("cannot reach the SMTP server")
        assert message.next_attempt_at >= before + dt.timedelta(seconds=outbox.BACKOFF_SECONDS[0])
    server = Server(settings, Inbox())
    try:
        due_now(*messages)
        assert outbox.deliver().sent == 3 and len(server.handler.messages) == 3
        assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}
    finally:
        server.stop()


def test_a_connection_dropped_before_data_sends_nothing_and_ends(db, scripted):
    messages = plain(2)
    scripted.drop_at_mail = True

    def stuck(signum, frame):
        raise AssertionError("deliver() keeps reconnecting to a server that drops every connection")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(8)
    try:
        outbox.deliver()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert scripted.messages == []
    for message in OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]):
        assert message.status == MessageStatus.QUEUED and message.attempt_at is None
    scripted.drop_at_mail = False
    due_now(*messages)
    assert outbox.deliver().sent == 2


# --- a worker killed mid-send ---------------------------------------------------------------------


class SlowInbox:
    """Takes a while over each message, and holds its reply to the `hold_at`-th (1-based) until
    released: the sender has handed the message over and waits to hear whether it arrived."""

    def __init__(self, hold_at: int, delay: float = 0.05):
        self.subjects: list[str] = []
        self.hold_at, self.delay = hold_at, delay
        self.holding, self.released = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.subjects.append(email.message_from_bytes(envelope.content)["Subject"])
        if len(self.subjects) == self.hold_at:
            self.holding.set()
            while not self.released.is_set():
                await asyncio.sleep(0.02)
        await asyncio.sleep(self.delay)
        return "250 OK"


class SharedDatabase:
    """The test database, where a child process can use it too: PostgreSQL's test database itself;
    SQLite's is in memory, so it is copied to a file the children share (and read from there)."""

    def __init__(self, directory: Path):
        self.settings = connection.settings_dict
        connection.ensure_connection()
        if connection.vendor == "sqlite":
            self.file = directory / "shared.sqlite3"
            with sqlite3.connect(self.file) as target:
                connection.connection.backup(target)
            target.close()
            self.url = f"sqlite:///{self.file}"
        else:
            s = self.settings
            self.file = None
            where = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
            self.url = f"postgres://{quote(s['USER'])}:{quote(s['PASSWORD'] or '')}@{where}/{s['NAME']}"

    def rows(self, sql: str) -> list[tuple]:
        if self.file is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        with sqlite3.connect(self.file) as db:
            rows = db.execute(sql).fetchall()
        db.close()
        return rows

    def messages(self) -> dict[str, tuple]:
        """subject: (status, attempt stamped, attempts)"""
        return {
            subject: (status, bool(stamped), attempts)
            for subject, status, stamped, attempts in self.rows(
                "SELECT subject, status, attempt_at IS NOT NULL, attempts FROM programs_outboxmessage"
            )
        }


def csops(database: SharedDatabase, port: int, *args: str, stale: int = 600, **popen) -> subprocess.Popen:
    """`csops …` in a child process on the shared database, mailing to the server on `port`."""
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "CSOPS_SMTP_HOST": "127.0.0.1",
        "CSOPS_SMTP_PORT": str(port),
        "CSOPS_OUTBOX_STALE_SECONDS": str(stale),
        "CSOPS_DATA_DIR": os.environ.get("CSOPS_DATA_DIR", str(django_settings.DATA_DIR)),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "csops.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_never_sends_a_message_twice(tmp_path):
    from aiosmtpd.controller import Controller

    plain(12, prefix="crash")
    database = SharedDatabase(tmp_path)
    inbox = SlowInbox(hold_at=3)
    server = Controller(inbox, hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        worker = csops(database, server.port, "outbox", "deliver")
        deadline = time.monotonic() + 60
        while not inbox.holding.wait(0.1):
            if worker.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                pytest.fail(f"the worker did not get to the third message: {worker.communicate()}")
        os.kill(worker.pid, signal.SIGKILL)  # while the third message's reply is outstanding
        worker.wait(10)
        inbox.released.set()
        in_flight = "crash 2"
        assert inbox.subjects == ["crash 0", "crash 1", in_flight]
        state = database.messages()
        assert state["crash 0"] == state["crash 1"] == ("sent", False, 1)
        assert state[in_flight] == ("queued", True, 0)  # stamped, never recorded
        assert {state[f"crash {i}"] for i in range(3, 12)} == {("queued", False, 0)}

        again = csops(database, server.port, "outbox", "deliver")
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
        assert out.strip().startswith("Outbox: 9 sent in"), out
        state = database.messages()
        assert state[in_flight] == ("queued", True, 0)  # not stale yet: left alone, not resent
        assert {state[f"crash {i}"] for i in range(3, 12)} == {("sent", False, 1)}

        time.sleep(1.1)
        later = csops(database, server.port, "outbox", "deliver", stale=1)
        out, err = later.communicate(timeout=60)
        assert later.returncode == 0 and out.strip().startswith("Outbox: 0 sent, 1 unknown in"), (out, err)
        status, = database.rows(
            f"SELECT status FROM programs_outboxmessage WHERE subject = '{in_flight}'"
        )
        assert status == ("unknown",)
        assert sorted(inbox.subjects) == sorted(f"crash {i}" for i in range(12))  # each exactly once
    finally:
        inbox.released.set()
        server.stop()


# --- csops outbox ----------------------------------------------------------------------------------


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("outbox", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_outbox_deliver_sends_what_is_due_with_progress_and_a_report(db, smtp_server, monkeypatch):
    from csops.programs.management.commands import outbox as command

    plain(7)
    out, _ = run_command("deliver", "--limit", "2")
    assert out.startswith("Outbox: 2 sent in") and len(smtp_server.messages) == 2
    monkeypatch.setattr(command, "CHUNK", 2)  # passes of two messages: a long run, in small
    smtp_server.refuse["m6@ours.example"] = "550 No such user"
    out, err = run_command("deliver")
    assert out.startswith("Outbox: 4 sent, 1 bounced in"), out
    assert "5 message(s) due; delivering" in err and err.count("  … ") == 2, err
    assert run_command("deliver")[0].startswith("Outbox: 0 sent in")
    with pytest.raises(CommandError, match="--limit: give a whole number of 1 or more, not 0"):
        run_command("deliver", "--limit", "0")


def test_outbox_list_and_retry(db, smtp_server):
    sent, failed, unknown, bounced = plain(4)
    outbox.deliver(limit=1)
    OutboxMessage.objects.filter(pk=failed.pk).update(status="failed", attempts=6, last_error="421 Too busy")
    OutboxMessage.objects.filter(pk=unknown.pk).update(status="unknown", attempt_at=timezone.now())
    OutboxMessage.objects.filter(pk=bounced.pk).update(status="bounced", attempts=1)
    out, _ = run_command("list")
    lines = out.splitlines()
    assert lines[0] == "Outbox: 1 sent, 1 failed, 1 bounced, 1 unknown"
    assert [int(line.split()[0]) for line in lines[1:]] == [bounced.pk, unknown.pk, failed.pk, sent.pk]
    assert "[421 Too busy]" in out
    out, _ = run_command("list", "--status", "failed", "--limit", "5")
    assert len(out.splitlines()) == 2 and "m1@ours.example" in out
    with pytest.raises(CommandError, match="--status: 'lost' is not one of queued, sent"):
        run_command("list", "--status", "lost")

    out, _ = run_command("retry", str(failed.pk), str(unknown.pk))
    assert out.strip() == "2 message(s) queued again"
    for message in (failed, unknown):
        message.refresh_from_db()
        assert (message.status, message.attempts, message.attempt_at) == ("queued", 0, None)
    entry = AuditEntry.objects.get(object_id=str(failed.pk), content_type__model="outboxmessage")
    assert entry.source == "cli" and entry.changes["status"] == ["failed", "queued"]
    assert entry.changes["last_error"] == ["421 Too busy", ""]
    assert outbox.deliver().sent == 2
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 message"):
        call_command("outbox", "retry", str(failed.pk), stdout=out)
    assert out.getvalue() == (
        f"0 message(s) queued again; left alone: {failed.pk}: it is sent, not failed or unknown\n"
    )
    with pytest.raises(CommandError, match="1 message"):
        run_command("retry", str(bounced.pk))
    with pytest.raises(CommandError, match="No outbox message with id 999999"):
        run_command("retry", str(bounced.pk), "999999")
    assert OutboxMessage.objects.get(pk=bounced.pk).status == "bounced"  # nothing written


def test_retrying_twice_queues_once_and_an_opted_out_contact_is_left_alone(book, smtp_server):
    message = journey_email(book["ada"])
    OutboxMessage.objects.filter(pk=message.pk).update(status="failed")
    assert retry_messages([message.pk], actor=None).queued == [message.pk]
    again = retry_messages([message.pk], actor=None)
    assert again.queued == [] and again.already == [message.pk] and not again.skipped
    OutboxMessage.objects.filter(pk=message.pk).update(status="failed")
    Contact.objects.filter(pk=book["ada"].pk).update(email_opt_out=True)
    report = retry_messages([message.pk], actor=None)
    assert report.skipped == {message.pk: "ada@acme.example has opted out of emails"}


def test_the_command_line_exits_non_zero_on_bad_options(db):
    for args, reason in ((["deliver", "--limit", "0"], "--limit: give a whole number"),
                         (["deliver", "--limit", "many"], "invalid int value: 'many'"),
                         (["retry"], "the following arguments are required: ID")):
        done = subprocess.run([sys.executable, "-m", "csops.cli", "outbox", *args], capture_output=True,
                              text=True, env={**os.environ, "DATABASE_URL": "sqlite:///:memory:"})
        assert done.returncode != 0 and reason in done.stderr, done.stderr


# --- the outbox pages ------------------------------------------------------------------------------


@pytest.fixture
def mailed(book, smtp_server):
    first = journey_email(book["ada"])
    plain(3)
    smtp_server.refuse["m2@ours.example"] = "550 No such user"
    outbox.deliver()
    plain(2, prefix="later", kind="alert")
    return first


@pytest.mark.parametrize(
    "url", ["/programs/outbox/?per_page=25", "/programs/outbox/?per_page=100&status=sent&recipient=example"]
)
def test_the_outbox_list_query_count_is_pinned(mailed, client_as, url):
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) <= 6, "\n".join(q["sql"] for q in queries)
    plain(30, prefix="more")
    with CaptureQueriesContext(connection) as more:
        client.get(url)
    assert len(more) == len(queries)


def test_the_outbox_list_filters_sorts_and_exports(mailed, client_as):
    client = client_as("csm")

    def subjects(query: str) -> list[str]:
        response = client.get(f"/programs/outbox/?{query}")
        assert response.status_code == 200
        return [row["object"].subject for row in response.context["rows"]]

    assert subjects("") == ["later 1", "later 0", "m 2", "m 1", "m 0", mailed.subject]  # newest first
    assert subjects("status=bounced") == ["m 2"]
    assert subjects("kind=program") == [mailed.subject]
    assert subjects("kind=alert&status=queued") == ["later 1", "later 0"]
    assert subjects("recipient=ACME") == [mailed.subject]
    today = timezone.localdate()
    assert len(subjects(f"created_after={today}&created_before={today}")) == 6
    assert subjects(f"created_after={today + dt.timedelta(days=1)}") == []
    assert subjects("sort=to")[:3] == [mailed.subject, "later 0", "later 1"]
    assert subjects("sort=-to")[-1] == mailed.subject
    assert subjects("sort=-attempts&status=sent")[-1] in ("m 0", "m 1", mailed.subject)
    assert client.get("/programs/outbox/?status=lost").status_code == 400
    assert client.get("/programs/outbox/?created_after=yesterday").status_code == 400
    export = client.get("/programs/outbox/?export=csv&status=bounced")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0] == "Subject,To,Kind,Status,Account,Attempts,Queued,Sent,Last error"
    assert lines[1].startswith("m 2,m2@ours.example,notification,Bounced,,1,")
    assert lines[1].endswith("m2@ours.example: 550 No such user") and len(lines) == 2


def test_who_sees_the_outbox(mailed, client_as, client):
    assert client.get("/programs/outbox/").status_code == 302  # log in first
    assert client.get(f"/programs/outbox/{mailed.pk}/").status_code == 302
    admin_page = client_as("admin").get("/programs/outbox/").content.decode()
    assert '<a href="/programs/outbox/">Outbox</a>' in admin_page
    viewer = client_as("viewer").get("/programs/outbox/")
    assert viewer.status_code == 200
    assert '<a href="/programs/outbox/">Outbox</a>' not in viewer.content.decode()
    assert client_as("viewer").get(f"/programs/outbox/{mailed.pk}/").status_code == 200


def test_a_message_page_shows_headers_history_events_and_both_parts_as_text(mailed, client_as):
    client = client_as("csm")
    text = mailed.text
    tracked = next(w for w in text.split() if "/t/" in w)
    client.get(path_of(tracked))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/programs/outbox/{mailed.pk}/")
    assert page.status_code == 200 and len(queries) <= 8, "\n".join(q["sql"] for q in queries)
    html = page.content.decode()
    mailed.refresh_from_db()
    assert f"<dt>Message-ID</dt><dd>{escape(mailed.message_id)}</dd>" in html
    assert "<dt>To</dt><dd>ada@acme.example</dd>" in html
    assert "<dt>Reply-To</dt><dd>casey@ours.example</dd>" in html
    assert "<dt>List-Unsubscribe-Post</dt><dd>List-Unsubscribe=One-Click</dd>" in html
    assert "<dt>Status</dt><dd>Sent</dd>" in html and "<dt>Attempts</dt><dd>1</dd>" in html
    assert "Check-in journey</a>, step 1" in html
    assert "<td>Clicked</td><td>calendly</td>" in html and CALENDLY in html
    assert "Hi Ada," in html
    # The HTML part is shown as its source, escaped: nothing of it is rendered on the page.
    assert "&lt;p&gt;Hi Ada,&lt;/p&gt;" in html and "<p>Hi Ada," not in html
    assert "&lt;img src=" in html and '<img src="' not in html
    assert "<script" not in html and " style=" not in html
    assert "Queue again" not in html  # sent


def test_an_admin_queues_a_failed_message_again_from_its_page(mailed, client_as):
    bounced = OutboxMessage.objects.get(subject="m 2")
    OutboxMessage.objects.filter(pk=bounced.pk).update(status="failed")
    assert "Queue again" not in client_as("csm").get(f"/programs/outbox/{bounced.pk}/").content.decode()
    assert client_as("csm").post(f"/programs/outbox/{bounced.pk}/retry/").status_code == 403
    admin = client_as("admin")
    assert "Queue again" in admin.get(f"/programs/outbox/{bounced.pk}/").content.decode()
    response = admin.post(f"/programs/outbox/{bounced.pk}/retry/", follow=True)
    html = response.content.decode()
    assert "Queued again" in html and "<dt>Status</dt><dd>Queued</dd>" in html
    assert "status failed → queued" in html  # its history
    again = admin.post(f"/programs/outbox/{bounced.pk}/retry/", follow=True)
    assert again.status_code == 200
    history = AuditEntry.objects.filter(object_id=str(bounced.pk), content_type__model="outboxmessage")
    assert history.count() == 1
