"""The live-server browser fixtures (Debian Chromium through Playwright) the customers' browser
tests define, for the cockpit's."""

from csops.customers.tests.test_browser import browser, page  # noqa: F401  (fixtures)
