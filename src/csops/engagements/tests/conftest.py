"""Fixtures for the engagements tests: the rules tests' small controlled book of accounts, and an
account eligible for a CSE engagement request with its owners.

NOTE (escalations engineer): this file was overwritten by mistake at 22:12:49 and its `owners` and
`eligible` fixtures reconstructed from how test_requests.py and test_request_pages.py use them;
compare with your original and put back anything that differs.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from csops.core.models import Role, User
from csops.customers.models import Segment
from csops.rules.tests.conftest import contact_for, make_account, put_health, team  # noqa: F401


@pytest.fixture
def owners(users) -> dict[str, User]:
    """The account owners who may file a request: the AE and the renewals manager."""
    return {
        "ae": User.objects.create(username="avery", first_name="Avery", last_name="Owner",
                                  email="avery@example.com", role=Role.ACCOUNT_OWNER, function="ae"),
        "renewals_manager": User.objects.create(
            username="riley", first_name="Riley", last_name="Renewals", email="riley@example.com",
            role=Role.ACCOUNT_OWNER, function="renewals",
        ),
    }


@pytest.fixture
def eligible(make_account, contact_for, owners, team):  # noqa: F811
    """An account a CSE engagement request may be filed for: Scale, TAM Scale pool, ARR in range,
    an AE and a renewals manager, one contact; override any field."""

    def make(**fields):
        values = {
            "segment": Segment.objects.get(name="Scale"),
            "arr": Decimal("50000"),
            "csm": team["pool"],
            "ae": owners["ae"],
            "renewals_manager": owners["renewals_manager"],
            **fields,
        }
        account = make_account(**values)
        contact_for(account, "GitLab Admin", first_name="Gil")
        return account

    return make
