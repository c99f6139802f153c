"""The organisation's business calendar and fiscal quarters.

Service levels ("a follow-up within 2 business days") and reminders count business days: the
working week (CSOPS_WORKING_DAYS) less the public holidays of a country and subdivision
(CSOPS_HOLIDAYS_COUNTRY, CSOPS_HOLIDAYS_SUBDIVISION, from the `holidays` library) and the
company's own days off (`CompanyHoliday`, configuration as code). Dates are days in the business
time zone: a datetime is converted to it before its day is taken.

Fiscal years are named by the calendar year in which they end (with February as the first
month, February 2026 to January 2027 is FY2027).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from csops.core.models import CompanyHoliday

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _organisation(key: str) -> object:
    return settings.CSOPS_ORGANISATION[key]


def business_zone() -> zoneinfo.ZoneInfo:
    """The zone whose midnight ends a business day."""
    name = str(_organisation("business_time_zone"))
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"CSOPS_BUSINESS_TIME_ZONE: unknown time zone {name!r} (e.g. UTC, America/New_York)"
        ) from None


def business_date(value: dt.date | dt.datetime) -> dt.date:
    """The business day a date or an aware datetime falls on: a call at 18:00 on Friday in New
    York is Friday's, although it is already Saturday in UTC."""
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError(f"{value!r} is naive: a datetime must carry its time zone")
        return value.astimezone(business_zone()).date()
    return value


def business_today() -> dt.date:
    return business_date(timezone.now())


@functools.lru_cache(maxsize=32)
def parse_working_days(value: str) -> frozenset[int]:
    """Weekday numbers (Monday 0) from a list such as "Mon,Tue,Wed,Thu,Fri" or "Sun,Mon,...,Thu"."""
    days = set()
    for part in value.split(","):
        name = part.strip().lower()
        if name in DAY_NAMES or name in FULL_DAY_NAMES:
            days.add(DAY_NAMES.index(name[:3]))
        elif name:
            raise ImproperlyConfigured(
                f"CSOPS_WORKING_DAYS: unknown day {part.strip()!r} in {value!r} "
                "(expected e.g. Mon,Tue,Wed,Thu,Fri)"
            )
    if not days:
        # An empty working week would make "the next business day" never come.
        raise ImproperlyConfigured(f"CSOPS_WORKING_DAYS: no working day in {value!r}")
    return frozenset(days)


@functools.lru_cache(maxsize=8)
def _check_place(country: str, subdivision: str) -> None:
    """Refuse a country or subdivision the holidays library does not know, naming the setting:
    silently having no public holidays would put due dates on them."""
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ImproperlyConfigured(
            f"CSOPS_HOLIDAYS_COUNTRY: unknown country {country!r} "
            "(an ISO 3166-1 alpha-2 code the holidays library supports, e.g. US, GB, DE)"
        )
    if subdivision:
        try:
            holidays.country_holidays(country, subdiv=subdivision, years=2000)
        except NotImplementedError:
            known = ", ".join(supported[country]) or "none"
            raise ImproperlyConfigured(
                f"CSOPS_HOLIDAYS_SUBDIVISION: unknown subdivision {subdivision!r} of {country} "
                f"(known: {known})"
            ) from None


@functools.lru_cache(maxsize=64)
def public_holidays(country: str, subdivision: str, year: int) -> frozenset[dt.date]:
    """A year's public holidays (observed days included), computed once per process."""
    _check_place(country, subdivision)
    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


@dataclass(frozen=True)
class BusinessCalendar:
    """The calendar as configured now. Build one with `business_calendar()` (one query) and reuse
    it to count for many rows; the module's functions build one per call."""

    working_days: frozenset[int]
    company_days_off: frozenset[dt.date]
    country: str
    subdivision: str = ""

    def is_business_day(self, day: dt.date | dt.datetime) -> bool:
        day = business_date(day)
        return (
            day.weekday() in self.working_days
            and day not in self.company_days_off
            and day not in public_holidays(self.country, self.subdivision, day.year)
        )

    def add_business_days(self, start: dt.date | dt.datetime, n: int) -> dt.date:
        """The n-th business day after `start` (n=0: `start` itself if a business day, else the
        next one). Counting starts the next business day: Friday + 1 is Monday."""
        if n < 0:
            raise ValueError(f"n must be 0 or more, not {n}")
        day = business_date(start)
        if n == 0:
            while not self.is_business_day(day):
                day += dt.timedelta(days=1)
            return day
        while n:
            day += dt.timedelta(days=1)
            n -= self.is_business_day(day)
        return day

    def business_days_between(self, start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> int:
        """Business days after `start` up to and including `end`; negative when `end` comes first
        (a due date `start` is "overdue by N business days" on `end`)."""
        start, end = business_date(start), business_date(end)
        if end < start:
            return -self.business_days_between(end, start)
        days = (start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1))
        return sum(self.is_business_day(day) for day in days)


def business_calendar() -> BusinessCalendar:
    """The calendar from the settings and the company holidays as they are now (one query, so a
    day off added by a configuration apply counts at once)."""
    country = str(_organisation("holidays_country")).strip().upper()
    subdivision = str(_organisation("holidays_subdivision") or "").strip()
    _check_place(country, subdivision)
    return BusinessCalendar(
        working_days=parse_working_days(str(_organisation("working_days"))),
        company_days_off=frozenset(CompanyHoliday.objects.values_list("date", flat=True)),
        country=country,
        subdivision=subdivision,
    )


def is_business_day(day: dt.date | dt.datetime) -> bool:
    """Whether a day is worked: a working weekday, not a public holiday nor a company day off."""
    return business_calendar().is_business_day(day)


def add_business_days(start: dt.date | dt.datetime, n: int) -> dt.date:
    """The due day of something due `n` business days after `start` (Friday + 1 is Monday)."""
    return business_calendar().add_business_days(start, n)


def business_days_between(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> int:
    """Business days after `start` up to and including `end`; negative when `end` < `start`."""
    return business_calendar().business_days_between(start, end)


def fiscal_year_start_month() -> int:
    month = _organisation("fiscal_year_start_month")
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise ImproperlyConfigured(f"CSOPS_FISCAL_YEAR_START_MONTH: expected 1 to 12, not {month!r}")
    return month


def fiscal_quarter(day: dt.date | dt.datetime) -> tuple[int, int]:
    """(fiscal year, quarter 1-4); the year is the calendar year in which the fiscal year ends."""
    day, start = business_date(day), fiscal_year_start_month()
    first_year = day.year if day.month >= start else day.year - 1
    ends_in = first_year if start == 1 else first_year + 1
    return ends_in, (day.month - start) % 12 // 3 + 1


def fiscal_quarter_start(day: dt.date | dt.datetime) -> dt.date:
    """The first day of the fiscal quarter `day` falls in."""
    day = business_date(day)
    months = day.year * 12 + day.month - 1 - (day.month - fiscal_year_start_month()) % 3
    return dt.date(months // 12, months % 12 + 1, 1)


def fiscal_quarter_label(day: dt.date | dt.datetime) -> str:
    """A quarter as people write it, e.g. "FY27-Q1"."""
    year, quarter = fiscal_quarter(day)
    return f"FY{year % 100:02d}-Q{quarter}"
