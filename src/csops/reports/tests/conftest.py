from csops.rules.tests.conftest import contact_for, make_account, team  # noqa: F401  (fixtures)
