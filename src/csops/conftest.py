"""Fixtures every app's tests share: the default configuration, one user per role, a small
seeded customer base, and clients logged in as each role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.test import Client

from csops.core.configuration import apply_configuration, default_directory
from csops.core.models import AuditEntry, Role, User
from csops.customers.actions import seed_customers
from csops.customers.synthetic import generate

TODAY = dt.date(2026, 11, 23)


def pytest_configure(config):
    # Every test makes its users; hashing their passwords the production way costs about half a
    # second each, and no test is about the hash.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def analytics_store(tmp_path, settings):
    """Each test gets its own analytics store file, so parallel workers never share one."""
    from csops.usage import store

    settings.ANALYTICS_URL = f"duckdb://{tmp_path / 'analytics.duckdb'}"
    yield settings.ANALYTICS_URL
    store.close_all()


class _ConfigSnapshot:
    """The rows applying the default configuration writes, kept after the first apply in a process.

    Applying takes about 1.5 s (every object is validated, rules are compiled); inserting the same
    rows again with the same ids takes a few milliseconds, and the database ends up the same."""

    result = None
    rows: list[tuple[type[models.Model], list[dict]]] = []
    content_types: dict[int, tuple[str, str]] = {}

    @classmethod
    def apply(cls):
        if cls.result is not None:
            return cls.restore()
        tables = [m for m in apps.get_models(include_auto_created=True) if m not in (ContentType, Permission)]
        existing = {m: set(m.objects.values_list("pk", flat=True)) for m in tables}
        cls.result = apply_configuration(default_directory(), message="test defaults")
        cls.rows = []
        for model in tables:
            added = [r for r in model.objects.values() if r[model._meta.pk.attname] not in existing[model]]
            if added:
                cls.rows.append((model, added))
        cls.content_types = {ct.pk: ct.natural_key() for ct in ContentType.objects.all()}
        return cls.result

    @classmethod
    @transaction.atomic  # foreign keys are checked at commit, when every row is back
    def restore(cls):
        for model, rows in cls.rows:
            instances = [model(**row) for row in rows]
            if model is AuditEntry:  # content type ids change when a transactional test flushes them
                for entry, row in zip(instances, rows, strict=True):
                    natural_key = cls.content_types[row["content_type_id"]]
                    entry.content_type = ContentType.objects.get_by_natural_key(*natural_key)
            model.objects.bulk_create(instances)
        return cls.result


@pytest.fixture
def config(db):
    return _ConfigSnapshot.apply()


@pytest.fixture
def users(config) -> dict[str, User]:
    people = {}
    for role in Role:
        user = User.objects.create_user(
            username=f"{role.value}-user", password="pw-for-tests", role=role,
            email=f"{role.value}@example.com", first_name=role.label, last_name="Tester",
        )
        people[role.value] = user
    people["pool"] = User.objects.create(username="tam-scale", first_name="TAM", last_name="Scale",
                                         is_pool=True, role=Role.CSM)
    return people


@pytest.fixture
def seeded(users):
    dataset = generate(40, seed=3, today=TODAY)
    seed_customers(dataset, actor=None)
    return dataset


@pytest.fixture
def client_as(users):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(users[role])
        return client
    return make


class Inbox:
    """What a real SMTP server on loopback received: (envelope recipients, message text)."""

    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []
        self.refuse: dict[str, str] = {}  # recipient: SMTP reply, e.g. "550 No such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """An aiosmtpd server on a free loopback port, with the outbox pointed at it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    yield inbox
    controller.stop()
