"""The rules tests' small controlled book of accounts serves the programs tests too."""

from csops.rules.tests.conftest import contact_for, make_account, put_health, team  # noqa: F401
