"""A small, controlled book of accounts for rule tests: every attribute a rule reads is set here."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pyarrow as pa
import pytest

from csops.core.models import Role, User
from csops.customers.models import Account, Contact, Geo, Persona, Segment
from csops.health.actions import HISTORY_SCHEMA
from csops.health.selectors import active_scorecard
from csops.usage import store

TODAY = dt.date.today()
_numbers = itertools.count(1)


@pytest.fixture
def team(users) -> dict[str, User]:
    amer = Geo.objects.get(name="AMER")
    manager = User.objects.create(username="mgr", email="mgr@example.com", role=Role.VIEWER, geo=amer)
    pool = users["pool"]
    return {
        "manager": manager,
        "csm": User.objects.create(
            username="csm1", email="csm1@example.com", role=Role.CSM, geo=amer, manager=manager
        ),
        "cse": User.objects.create(
            username="cse1", email="cse1@example.com", role=Role.CSM, geo=amer, pool=pool
        ),
        "pool": pool,
        "admin": users["admin"],
    }


@pytest.fixture
def make_account(team):
    """An account with a named CSM, mid-contract, green sentiment; override any field."""

    def make(**fields) -> Account:
        number = next(_numbers)
        values = {
            "external_id": f"T-{number}",
            "name": f"Test Account {number}",
            "segment": Segment.objects.get(name="Growth"),
            "geo": Geo.objects.get(name="AMER"),
            "arr": Decimal("200000"),
            "tier": "ultimate",
            "csm_priority": "P2",
            "contract_start": TODAY - dt.timedelta(days=400),
            "renewal_date": TODAY + dt.timedelta(days=330),
            "licensed_users": 100,
            "csm": team["csm"],
            "csm_sentiment": "green",
            "csm_sentiment_date": TODAY - dt.timedelta(days=10),
            **fields,
        }
        return Account.objects.create(**values)

    return make


@pytest.fixture
def contact_for(config):
    def make(account: Account, persona: str, **fields) -> Contact:
        return Contact.objects.create(
            external_id=f"C-{next(_numbers)}",
            account=account,
            last_name=persona,
            email=f"{persona.lower().replace(' ', '.')}@customer.example",
            persona=Persona.objects.get(name=persona),
            **fields,
        )

    return make


@pytest.fixture
def put_health(config):
    """Write a health snapshot into the analytics store's history: {measure: (value, colour)}."""
    codes = {"red": 0, "yellow": 1, "green": 2}

    def put(account: Account, day: dt.date, **measures: tuple[float | None, str]) -> None:
        scorecard = active_scorecard()
        items = [("score", 60.0, "yellow"), *((k, v, c) for k, (v, c) in measures.items())]
        rows = pa.table(
            {
                "account_id": [account.pk] * len(items),
                "scored_on": [day] * len(items),
                "scorecard": [scorecard.name] * len(items),
                "item": [item for item, _, _ in items],
                "value": [value for _, value, _ in items],
                "color": [codes[color] for _, _, color in items],
                "note": [None] * len(items),
                "stale": [False] * len(items),
                "contribution": [None] * len(items),
            },
            schema=HISTORY_SCHEMA,
        )
        store.append(store.connect(), "health_history", rows, HISTORY_SCHEMA)

    return put
