"""Schemathesis generates requests from the OpenAPI spec: whatever it sends, no 5xx."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from csops.core.actions import create_token
from csops.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app directly fires request_finished, which closes the database
    connection and with it the test's transaction; Django's test client avoids this the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(seeded, users, keep_test_connection):
    return create_token(users["admin"], actor=None)[1]


@schema.parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_answers_any_input_without_a_server_error(case, admin_token):
    response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        try:
            body = json.loads(response.text)
        except ValueError:
            raise AssertionError((case.method, case.formatted_path, case.body, response.status_code,
                                  dict(response.headers), response.text[:300])) from None
        assert "detail" in body
