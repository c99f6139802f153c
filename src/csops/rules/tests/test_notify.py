"""Notifications and alerts reach real servers on loopback: SMTP (aiosmtpd) and a Slack webhook."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from csops.conftest import free_port
from csops.programs.models import OutboxMessage
from csops.programs.outbox import deliver
from csops.rules.actions import run_rules
from csops.rules.models import Rule, RuleEffect
from csops.rules.tests.conftest import TODAY


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


def test_notifications_are_one_digest_per_recipient_over_smtp(smtp_server, make_account, team):
    red_rule(to=["csm", "ops@example.com"], subject="{count} red account(s) for {rule}")
    accounts = [make_account(csm_sentiment="red") for _ in range(3)]
    make_account(csm_sentiment="green")
    run_rules(as_of=TODAY)
    assert deliver().sent == 2
    assert sorted(to for to, _ in smtp_server.messages) == [["csm1@example.com"], ["ops@example.com"]]
    for _, message in smtp_server.messages:
        assert "Subject: 3 red account(s) for Red" in message
        assert all(a.name in message for a in accounts)
        assert "List-Unsubscribe" not in message  # internal mail
    run_rules(as_of=TODAY)
    assert deliver().sent == 0  # once a day per account
    run_rules(as_of=TODAY + dt.timedelta(days=1))
    assert deliver().sent == 2 and len(smtp_server.messages) == 4


def test_slack_notifications_and_failure_alerts(slack, smtp_server, make_account, team):
    red_rule(via="slack")
    account = make_account(csm_sentiment="red")
    Rule.objects.create(name="Broken", when=["nothing_here"], actions=[{"notify": {"via": "slack"}}])
    run = run_rules(as_of=TODAY)
    texts = [post["text"] for post in slack]
    assert any("Red: 1 account(s)" in t and account.name in t for t in texts)
    broken = run.results.get(rule="Broken")
    assert any("Broken" in t and "unknown name 'nothing_here'" in t for t in texts)
    assert broken.alert == "emailed 1 admin(s); posted to Slack"
    deliver()
    assert [to for to, _ in smtp_server.messages] == [[team["admin"].email]]


def test_an_undeliverable_notification_waits_in_the_outbox(settings, make_account):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    red_rule(to=["csm"])
    make_account(csm_sentiment="red")
    result = run_rules(as_of=TODAY).results.get()
    assert result.error == "" and result.actions == {"notify": 1}
    report = deliver()
    assert report.sent == 0 and report.retried == 1
    message = OutboxMessage.objects.get()
    assert message.status == "queued" and "cannot reach the SMTP server" in message.last_error
    assert message.next_attempt_at > message.created_at and message.attempts == 0
    assert RuleEffect.objects.count() == 1  # the notification is queued: the rule will not repeat it
