"""Notifications and alerts reach real servers on loopback: SMTP (aiosmtpd) and a Slack webhook."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller

from csops.rules.actions import run_rules
from csops.rules.models import Rule, RuleEffect
from csops.rules.tests.conftest import TODAY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def slack(settings):
    posts = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.CSOPS_SLACK_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    yield posts
    server.shutdown()


def red_rule(**notify) -> None:
    Rule.objects.update(enabled=False)
    Rule.objects.create(name="Red", when=["csm_sentiment == 'red'"], actions=[{"notify": notify}])


def test_notifications_are_one_digest_per_recipient_over_smtp(smtp, make_account, team):
    red_rule(to=["csm", "ops@example.com"], subject="{count} red account(s) for {rule}")
    accounts = [make_account(csm_sentiment="red") for _ in range(3)]
    make_account(csm_sentiment="green")
    run_rules(as_of=TODAY)
    assert sorted(to for to, _ in smtp.messages) == [["csm1@example.com"], ["ops@example.com"]]
    for _, message in smtp.messages:
        assert "Subject: 3 red account(s) for Red" in message
        assert all(a.name in message for a in accounts)
    run_rules(as_of=TODAY)
    assert len(smtp.messages) == 2  # once a day per account
    run_rules(as_of=TODAY + dt.timedelta(days=1))
    assert len(smtp.messages) == 4


def test_slack_notifications_and_failure_alerts(slack, smtp, make_account, team):
    red_rule(via="slack")
    account = make_account(csm_sentiment="red")
    Rule.objects.create(name="Broken", when=["nothing_here"], actions=[{"notify": {"via": "slack"}}])
    run = run_rules(as_of=TODAY)
    texts = [post["text"] for post in slack]
    assert any("Red: 1 account(s)" in t and account.name in t for t in texts)
    broken = run.results.get(rule="Broken")
    assert any("Broken" in t and "unknown name 'nothing_here'" in t for t in texts)
    assert broken.alert == "emailed 1 admin(s); posted to Slack"
    assert [to for to, _ in smtp.messages] == [[team["admin"].email]]


def test_an_undeliverable_notification_is_retried_next_run(settings, make_account):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    red_rule(to=["csm"])
    make_account(csm_sentiment="red")
    result = run_rules(as_of=TODAY).results.get()
    assert "ConnectionRefusedError" in result.error
    assert result.alert.startswith("alert not sent: ConnectionRefusedError")
    assert not RuleEffect.objects.exists()  # not marked as sent, so the next run tries again
