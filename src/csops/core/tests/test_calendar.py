import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from csops.core.calendar import (
    add_business_days,
    business_calendar,
    business_days_between,
    fiscal_quarter,
    fiscal_quarter_label,
    fiscal_quarter_start,
    is_business_day,
)
from csops.core.models import CompanyHoliday

D = dt.date
FRI = D(2026, 10, 2)  # an ordinary week: no US public holiday from Mon 28 Sep to Fri 9 Oct
MON = D(2026, 10, 5)


@pytest.fixture(autouse=True)
def organisation(settings):
    """Pin the calendar settings (the environment may set others), and let a test change them."""

    def configure(**values):
        settings.CSOPS_ORGANISATION = {**settings.CSOPS_ORGANISATION, **values}

    configure(business_time_zone="UTC", fiscal_year_start_month=2, holidays_country="US",
              holidays_subdivision="", working_days="Mon,Tue,Wed,Thu,Fri")
    return configure


def test_friday_plus_one_is_monday(db):
    assert add_business_days(FRI, 1) == MON
    assert add_business_days(FRI, 2) == D(2026, 10, 6)
    assert add_business_days(D(2026, 10, 1), 3) == D(2026, 10, 6)  # Thursday, over the weekend


def test_zero_days_is_the_same_business_day_or_the_next(db):
    assert add_business_days(FRI, 0) == FRI
    assert add_business_days(D(2026, 10, 3), 0) == MON  # Saturday
    assert add_business_days(D(2026, 10, 3), 1) == MON  # counting starts the next business day


def test_negative_days_are_refused(db):
    with pytest.raises(ValueError, match="0 or more"):
        add_business_days(FRI, -1)


def test_us_thanksgiving_and_christmas_are_skipped(db):
    assert not is_business_day(D(2026, 11, 26))  # Thanksgiving, Thursday
    assert is_business_day(D(2026, 11, 27))  # the day after is not a federal holiday
    assert add_business_days(D(2026, 11, 25), 1) == D(2026, 11, 27)
    assert add_business_days(D(2026, 11, 25), 2) == D(2026, 11, 30)
    assert add_business_days(D(2026, 12, 24), 1) == D(2026, 12, 28)  # Christmas is a Friday
    # 1 Jan 2028 is a Saturday, observed on Friday 31 Dec 2027: counting crosses into 2028.
    assert add_business_days(D(2027, 12, 30), 1) == D(2028, 1, 3)


def test_a_subdivision_adds_its_own_holidays(db, organisation):
    assert is_business_day(D(2026, 11, 27))
    organisation(holidays_subdivision="CA")  # California: the day after Thanksgiving
    assert not is_business_day(D(2026, 11, 27))
    assert add_business_days(D(2026, 11, 25), 1) == D(2026, 11, 30)


def test_a_company_holiday_row_counts_at_once(db):
    assert add_business_days(FRI, 1) == MON
    CompanyHoliday.objects.create(name="Family and Friends Day", date=MON)
    assert not is_business_day(MON)
    assert add_business_days(FRI, 1) == D(2026, 10, 6)
    assert business_days_between(FRI, D(2026, 10, 6)) == 1


def test_default_company_holidays_are_applied_as_configuration(config):
    assert CompanyHoliday.objects.filter(date=D(2026, 8, 14)).exists()
    assert add_business_days(D(2026, 8, 13), 1) == D(2026, 8, 17)


def test_a_sunday_to_thursday_week(db, organisation):
    organisation(working_days="Sun, Mon, Tue, Wed, Thu")
    assert not is_business_day(FRI)
    assert is_business_day(D(2026, 10, 4))  # Sunday
    assert add_business_days(D(2026, 10, 1), 1) == D(2026, 10, 4)  # Thursday + 1 = Sunday
    assert add_business_days(FRI, 0) == D(2026, 10, 4)
    assert business_days_between(D(2026, 10, 1), D(2026, 10, 5)) == 2


def test_late_friday_in_new_york_is_friday_although_saturday_in_utc(db, organisation):
    organisation(business_time_zone="America/New_York")
    friday_evening = dt.datetime(2026, 10, 3, 2, 30, tzinfo=dt.UTC)  # Fri 22:30 EDT
    assert is_business_day(friday_evening)
    assert add_business_days(friday_evening, 0) == FRI
    assert add_business_days(friday_evening, 1) == MON
    organisation(business_time_zone="UTC")
    assert add_business_days(friday_evening, 0) == MON  # Saturday in UTC


def test_early_monday_in_tokyo_is_monday_although_sunday_in_utc(db, organisation):
    organisation(business_time_zone="Asia/Tokyo")
    monday_morning = dt.datetime(2026, 10, 4, 20, 0, tzinfo=dt.UTC)  # Mon 05:00 JST
    assert add_business_days(monday_morning, 1) == D(2026, 10, 6)
    organisation(business_time_zone="UTC")
    assert add_business_days(monday_morning, 1) == MON


def test_a_naive_datetime_is_refused(db):
    with pytest.raises(ValueError, match="naive"):
        add_business_days(dt.datetime(2026, 10, 2, 12, 0), 1)


def test_business_days_between_counts_after_start_up_to_end(db):
    assert business_days_between(FRI, FRI) == 0
    assert business_days_between(FRI, D(2026, 10, 4)) == 0  # Sunday
    assert business_days_between(FRI, MON) == 1
    assert business_days_between(MON, FRI) == -1
    assert business_days_between(D(2026, 11, 25), D(2026, 11, 30)) == 2  # over Thanksgiving
    assert business_days_between(D(2026, 11, 30), D(2026, 11, 25)) == -2


def test_between_undoes_add_from_a_business_day(db):
    calendar = business_calendar()
    start = D(2026, 11, 2)
    for n in range(40):
        assert calendar.business_days_between(start, calendar.add_business_days(start, n)) == n


@pytest.mark.parametrize(("day", "quarter", "label", "start"), [
    (D(2026, 1, 31), (2026, 4), "FY26-Q4", D(2025, 11, 1)),
    (D(2026, 2, 1), (2027, 1), "FY27-Q1", D(2026, 2, 1)),
    (D(2026, 4, 30), (2027, 1), "FY27-Q1", D(2026, 2, 1)),
    (D(2026, 5, 1), (2027, 2), "FY27-Q2", D(2026, 5, 1)),
    (D(2026, 11, 23), (2027, 4), "FY27-Q4", D(2026, 11, 1)),
    (D(2027, 1, 31), (2027, 4), "FY27-Q4", D(2026, 11, 1)),
    (D(2027, 2, 1), (2028, 1), "FY28-Q1", D(2027, 2, 1)),
])
def test_fiscal_quarters_starting_in_february(day, quarter, label, start):
    assert fiscal_quarter(day) == quarter
    assert fiscal_quarter_label(day) == label
    assert fiscal_quarter_start(day) == start


@pytest.mark.parametrize(("day", "quarter", "label", "start"), [
    (D(2026, 12, 31), (2026, 4), "FY26-Q4", D(2026, 10, 1)),
    (D(2027, 1, 1), (2027, 1), "FY27-Q1", D(2027, 1, 1)),
    (D(2027, 1, 31), (2027, 1), "FY27-Q1", D(2027, 1, 1)),
    (D(2027, 2, 1), (2027, 1), "FY27-Q1", D(2027, 1, 1)),
    (D(2027, 4, 1), (2027, 2), "FY27-Q2", D(2027, 4, 1)),
])
def test_fiscal_quarters_on_the_calendar_year(organisation, day, quarter, label, start):
    organisation(fiscal_year_start_month=1)
    assert fiscal_quarter(day) == quarter
    assert fiscal_quarter_label(day) == label
    assert fiscal_quarter_start(day) == start


def test_fiscal_quarter_of_a_datetime_is_that_of_its_business_day(organisation):
    organisation(business_time_zone="America/Los_Angeles")
    evening = dt.datetime(2026, 2, 1, 3, 0, tzinfo=dt.UTC)  # 31 Jan 19:00 Pacific
    assert fiscal_quarter_label(evening) == "FY26-Q4"


@pytest.mark.parametrize("start_month", range(1, 13))
def test_fiscal_quarters_follow_one_another_for_every_start_month(organisation, start_month):
    """Health's update cadence counted quarters as (year * 12 + month - start) // 3; fiscal_quarter
    must number them the same way, up to a constant."""
    organisation(fiscal_year_start_month=start_month)
    offsets = set()
    day = D(2025, 1, 1)
    while day < D(2029, 1, 1):
        year, quarter = fiscal_quarter(day)
        assert fiscal_quarter_start(day) <= day < fiscal_quarter_start(day) + dt.timedelta(days=93)
        offsets.add(year * 4 + quarter - (day.year * 12 + day.month - start_month) // 3)
        day += dt.timedelta(days=1)
    assert len(offsets) == 1


def test_a_bad_country_names_its_setting(db, organisation):
    organisation(holidays_country="XX")
    with pytest.raises(ImproperlyConfigured, match="CSOPS_HOLIDAYS_COUNTRY: unknown country 'XX'"):
        is_business_day(FRI)


def test_a_country_code_in_lower_case_is_understood(db, organisation):
    organisation(holidays_country="us")
    assert not is_business_day(D(2026, 11, 26))


def test_a_bad_subdivision_names_its_setting(db, organisation):
    organisation(holidays_subdivision="ZZ")
    with pytest.raises(ImproperlyConfigured, match="CSOPS_HOLIDAYS_SUBDIVISION: unknown subdivision 'ZZ'"):
        add_business_days(FRI, 1)


@pytest.mark.parametrize("working_days", ["Mon,Tue,Wed,Thu,Fry", ""])
def test_a_bad_working_week_names_its_setting(db, organisation, working_days):
    organisation(working_days=working_days)
    with pytest.raises(ImproperlyConfigured, match="CSOPS_WORKING_DAYS"):
        is_business_day(FRI)


def test_a_bad_fiscal_start_month_names_its_setting(organisation):
    organisation(fiscal_year_start_month=13)
    with pytest.raises(ImproperlyConfigured, match="CSOPS_FISCAL_YEAR_START_MONTH"):
        fiscal_quarter(FRI)
