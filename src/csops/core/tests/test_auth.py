import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from csops.core.models import ApiToken, AuditEntry
from csops.core.tokens import digest


@pytest.fixture(autouse=True)
def _clear_throttle():
    cache.clear()


def test_token_create_stores_only_a_hash_and_authenticates(users, capsys):
    call_command("token", "create", "csm-user", "--name", "laptop")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=users["csm"])
    assert secret.startswith("csops_") and token.digest == digest(secret)
    assert secret not in str(list(ApiToken.objects.values()))
    response = Client().get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert AuditEntry.objects.filter(content_type__model="apitoken").exists()


def test_revoked_and_wrong_tokens_are_refused(users, capsys):
    call_command("token", "create", "viewer-user")
    secret = capsys.readouterr().out.strip()
    call_command("token", "revoke", secret[:12])
    assert Client().get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    response = Client().get("/api/v1/accounts", HTTP_AUTHORIZATION="Bearer csops_nope")
    assert response.status_code == 401 and "detail" in response.json()


@pytest.mark.parametrize(("args", "message"), [
    (["create", "nobody"], "no user 'nobody'"),
    (["create", "tam-scale"], "is a pool"),
    (["revoke", "csops_zzzz"], "no token with prefix"),
    (["create"], "give a username"),
])
def test_token_cli_errors(users, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("token", *args)


def test_login_and_throttle(users, settings):
    settings.LOGIN_THROTTLE_LIMIT = 3
    client = Client()
    ok = client.post("/login/", {"username": "csm-user", "password": "pw-for-tests"})
    assert ok.status_code == 302
    other = Client()
    for _ in range(3):
        assert other.post("/login/", {"username": "viewer-user", "password": "wrong"}).status_code == 200
    blocked = other.post("/login/", {"username": "viewer-user", "password": "pw-for-tests"})
    assert blocked.status_code == 429 and b"Too many failed attempts" in blocked.content


def test_security_headers(users, client_as):
    response = client_as("viewer").get("/customers/accounts/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
