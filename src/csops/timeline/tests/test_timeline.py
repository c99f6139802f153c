import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from csops.core.models import AuditEntry
from csops.customers.models import Account, Contact
from csops.health.features import timeline_facts
from csops.timeline.actions import log_activity, seed_activities
from csops.timeline.models import Activity, ActivityType

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def account(seeded):
    return Account.objects.filter(contacts__isnull=False).first()


def test_log_activity_with_attendees_is_audited(account, users):
    contact = account.contacts.first()
    call = ActivityType.objects.get(name="Cadence Call")
    activity = log_activity(
        account,
        author=users["csm"],
        type=call,
        subject="Quarterly check-in",
        date=TODAY,
        internal_attendees=[users["csm"]],
        external_attendees=[contact],
    )
    assert list(activity.external_attendees.all()) == [contact]
    assert AuditEntry.objects.filter(object_repr="Quarterly check-in", actor=users["csm"]).exists()


def test_attendees_must_belong_to_the_account(account, users):
    stranger = Contact.objects.exclude(account=account).first()
    with pytest.raises(ValidationError, match="is not a contact of"):
        log_activity(
            account,
            author=users["csm"],
            type=ActivityType.objects.first(),
            subject="x",
            date=TODAY,
            external_attendees=[stranger],
        )
    assert not Activity.objects.exists()


def test_timeline_feeds_the_engagement_features(account, users):
    dev_lead = Contact.objects.create(
        account=account, external_id="DL-1", last_name="Dev", persona_id=_persona("Dev Lead")
    )
    call, email = ActivityType.objects.get(name="Customer Call"), ActivityType.objects.get(name="Email")
    log_activity(account, author=None, type=email, subject="Mail", date=TODAY - dt.timedelta(days=1))
    log_activity(
        account,
        author=None,
        type=call,
        subject="Call",
        date=TODAY - dt.timedelta(days=40),
        external_attendees=[dev_lead],
    )
    facts = timeline_facts(TODAY)
    assert facts["last_meeting_date"][account.pk] == TODAY - dt.timedelta(days=40)  # emails don't count
    assert facts["dev_lead_met_90d"][account.pk] is True
    assert facts["security_lead_met_90d"][account.pk] is False
    other = Account.objects.exclude(pk=account.pk).first()
    assert other.pk not in facts["dev_lead_met_90d"]  # no activity at all: no data
    later = timeline_facts(TODAY + dt.timedelta(days=60))
    assert later["dev_lead_met_90d"][account.pk] is False


def _persona(name: str) -> int:
    from csops.customers.models import Persona

    return Persona.objects.get(name=name).pk


def test_quick_log_on_account_360(account, client_as):
    url = f"/timeline/accounts/{account.pk}/activities/"
    call = ActivityType.objects.get(name="Customer Call")
    data = {
        "type": call.pk,
        "subject": "Kickoff",
        "date": "2026-11-20",
        "external_attendees": [account.contacts.first().pk],
    }
    assert client_as("viewer").post(url, data).status_code == 403
    bad = client_as("csm").post(url, {**data, "date": "someday"})
    assert bad.status_code == 400 and b"Enter a valid date" in bad.content
    stranger = Contact.objects.exclude(account=account).first()
    assert client_as("csm").post(url, {**data, "external_attendees": [stranger.pk]}).status_code == 400
    assert client_as("csm").post(url, data).status_code == 302
    page = client_as("viewer").get(account.get_absolute_url()).content.decode()
    assert "Kickoff" in page and "last call or meeting Nov. 20, 2026" in page


def test_seeded_activities(seeded):
    made = seed_activities(end=TODAY, seed=3)
    assert made == Activity.objects.count() > 0
    assert not Activity.objects.filter(date__gt=TODAY).exists()
    assert seed_activities(end=TODAY, seed=3) == made and Activity.objects.count() == made
