"""Throttling and transient errors are retried with back-off, and a persistent failure on one
instance leaves the others done: a small HTTP proxy on loopback, in front of moto's server, answers
chosen EC2 requests with EC2's own error responses and passes everything else through."""

from __future__ import annotations

import http.client
import threading
import urllib.parse
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from csops.conftest import free_port
from csops.sandbox.actions import run_cleanup
from csops.sandbox.models import RunStatus, SandboxAction
from csops.sandbox.tests.conftest import day, described

# EC2's error response (the Query API's XML), as AWS sends it.
ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
    "<RequestID>{request}</RequestID></Response>"
)
HOP = ("host", "connection")  # set anew for the upstream connection
THROTTLED = (503, "RequestLimitExceeded", "Request limit exceeded.")
INTERNAL = (500, "InternalError", "An internal error has occurred.")


class Proxy:
    """Forwards EC2 requests to moto, except the first `fail[action]` requests of an action (answered
    with that action's error) and any request naming `refuse[action]`'s instance id (always refused)."""

    def __init__(self, upstream: str):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.fail: dict[str, list[tuple[int, str, str]]] = {}
        self.refuse: dict[str, tuple[str, tuple[int, str, str]]] = {}
        self.seen: list[tuple[str, bytes, int]] = []  # action, body, status answered
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                form = urllib.parse.parse_qs(body.decode())
                action = form.get("Action", [""])[0]
                with proxy.lock:
                    error = proxy.fail[action].pop(0) if proxy.fail.get(action) else None
                    refused = proxy.refuse.get(action)
                    if refused and any(refused[0] in values for values in form.values()):
                        error = refused[1]
                if error:
                    status, code, message = error
                    text = ERROR.format(code=code, message=message, request=uuid.uuid4())
                    self._answer(status, text.encode())
                else:
                    status = self._forward(body)
                with proxy.lock:
                    proxy.seen.append((action, body, status))

            def _forward(self, body: bytes) -> int:
                where = proxy.upstream
                upstream = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                    upstream.request("POST", self.path, body, headers)
                    answer = upstream.getresponse()
                    self._answer(answer.status, answer.read(), answer.getheader("Content-Type", "text/xml"))
                    return answer.status
                finally:
                    upstream.close()

            def _answer(self, status: int, payload: bytes, kind: str = "text/xml") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answered(self, action: str) -> Counter:
        return Counter(status for seen, _, status in self.seen if seen == action)


@pytest.fixture
def proxy(ec2, moto_url, settings):
    """The proxy in front of moto; the product's clients go through it (the test's own do not)."""
    running = Proxy(moto_url)
    running.thread.start()
    settings.CSOPS_SANDBOX_ENDPOINT_URL = running.url
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


def test_throttled_and_failing_calls_are_retried(ec2, launch, config, proxy):
    named = launch(3)
    [unnamed] = launch(name=None)
    proxy.fail = {
        "DescribeInstances": [THROTTLED],
        "DescribeInstanceAttribute": [THROTTLED, THROTTLED],
        "CreateTags": [THROTTLED, THROTTLED],  # the first call's first two attempts
        "StopInstances": [INTERNAL],
    }
    run = run_cleanup(today=day(0))
    assert run.status == RunStatus.DONE and run.counts == {"tag": 3, "stop": 1}
    for instance in named:
        assert described(ec2, instance)["tags"]["Expiration"] == "2026-12-15"
    assert described(ec2, unnamed)["state"] == "stopped"
    assert described(ec2, unnamed)["tags"]["Unnamed"] == "2026-12-01"

    assert not any(proxy.fail.values())  # every planned error was given
    assert proxy.answered("DescribeInstances") == {503: 1, 200: 1}
    assert proxy.answered("DescribeInstanceAttribute") == {503: 2, 200: 4}
    assert proxy.answered("CreateTags") == {503: 2, 200: 2}
    assert proxy.answered("StopInstances") == {500: 1, 200: 1}
    # Each refused request was sent again as it was, and answered; a retry is not another call.
    for action, body, status in proxy.seen:
        if status >= 500:
            assert (action, body, 200) in proxy.seen
    assert len(proxy.seen) == run.api_calls + 6
    assert set(SandboxAction.objects.filter(run=run).values_list("outcome", flat=True)) == {"done"}


def test_a_persistent_failure_leaves_the_run_partly_done(ec2, launch, config, proxy):
    expired = {"Discovered": "2026-10-01", "Expiration": "2026-10-15"}
    stuck, *others = launch(3, tags=expired)
    cannot = (400, "IncorrectInstanceState", f"The instance '{stuck}' cannot be stopped.")
    proxy.refuse = {"StopInstances": (stuck, cannot)}
    run = run_cleanup(today=day(0))
    assert run.status == RunStatus.PARTLY and run.counts == {"stop": 3}
    outcomes = dict(SandboxAction.objects.filter(run=run).values_list("instance_id", "outcome"))
    assert outcomes == {stuck: "failed", **dict.fromkeys(others, "done")}
    assert "IncorrectInstanceState" in SandboxAction.objects.get(run=run, instance_id=stuck).error
    assert described(ec2, stuck)["state"] == "running"
    assert {described(ec2, i)["state"] for i in others} == {"stopped"}
    # The batch of three was refused, then each instance tried alone: only the stuck one failed.
    assert proxy.answered("StopInstances") == {400: 2, 200: 2}
