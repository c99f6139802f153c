from csops.rules.tests.conftest import make_account, team  # noqa: F401  (fixtures)
