"""The programs pages, the enrol form, template previews and the `csops programs` command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csops.customers.models import Segment
from csops.programs.models import EmailTemplate, Enrolment, Program


@pytest.fixture
def scale_accounts(make_account, contact_for, team):
    accounts = []
    for i in range(3):
        account = make_account(segment=Segment.objects.get(name="Scale"), csm=team["pool"], cse=team["cse"])
        contact_for(account, "GitLab Admin" if i else "Sold-to", first_name=f"P{i}")
        accounts.append(account)
    return accounts


def test_program_list_and_detail(scale_accounts, client_as):
    program = Program.objects.get(name="21 day check in")
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/programs/")
    assert page.status_code == 200 and len(queries) <= 5, "\n".join(q["sql"] for q in queries)
    assert "21 day check in" in page.content.decode()
    detail = client.get(program.get_absolute_url()).content.decode()
    assert (
        "Calendly Clicked" in detail
        and "Nobody is enrolled yet." in detail
        and "Enrol</button>" not in detail
    )
    assert "<strong>Wait</strong> until day 21 of the contract" in detail
    assert "<strong>Wait</strong> 7 days" in detail


def test_admins_enrol_by_segment_or_accounts(scale_accounts, client_as):
    program = Program.objects.get(name="CSM/CSE introduction")
    url = f"/programs/{program.pk}/enrol/"
    assert client_as("csm").post(url, {"segment": "Scale"}).status_code == 403
    admin = client_as("admin")
    assert "Enrol</button>" in admin.get(program.get_absolute_url()).content.decode()
    bad = admin.post(url, {"accounts": "NOPE-1"})
    assert bad.status_code == 400 and "No account with CRM id &#x27;NOPE-1&#x27;" in bad.content.decode()
    both = admin.post(url, {"segment": "Scale", "accounts": scale_accounts[0].external_id})
    assert both.status_code == 400 and "not both" in both.content.decode()
    assert not Enrolment.objects.exists()
    response = admin.post(url, {"segment": "Scale"}, follow=True)
    assert "3 enrolled, 0 already enrolled" in response.content.decode()
    again = admin.post(
        url, {"accounts": f"{scale_accounts[1].external_id}, {scale_accounts[2].external_id}"}, follow=True
    )
    assert "0 enrolled, 2 already enrolled" in again.content.decode()
    assert set(Enrolment.objects.values_list("contact__persona__name", flat=True)) == {
        "GitLab Admin",
        "Sold-to",
    }


def test_template_preview_with_a_real_account(scale_accounts, client_as):
    template = EmailTemplate.objects.get(name="21 day check in")
    client = client_as("csm")
    page = client.get(f"/programs/templates/{template.pk}/?account={scale_accounts[1].external_id}")
    html = page.content.decode()
    assert (
        page.status_code == 200
        and "Hello P1," in html
        and "https://calendly.com/example-cse-amer/30min" in html
    )
    assert scale_accounts[1].name in html and "cse1" in html
    missing = client.get(f"/programs/templates/{template.pk}/?account=NOPE")
    assert missing.status_code == 400 and "No account with CRM id" in missing.content.decode()
    assert "21 day check in" in client.get("/programs/templates/").content.decode()


def test_programs_command(scale_accounts, capsys):
    call_command("programs", "enrol", "CSM/CSE introduction", "--segment", "Scale")
    assert "3 enrolled" in capsys.readouterr().out
    call_command("programs", "run")
    assert "emails queued" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no program 'Nope'"):
        call_command("programs", "enrol", "Nope", "--segment", "Scale")
    with pytest.raises(CommandError, match="either --segment NAME or --account"):
        call_command("programs", "enrol", "CSM/CSE introduction")
    with pytest.raises(CommandError, match="no account with CRM id 'X'"):
        call_command("programs", "enrol", "CSM/CSE introduction", "--account", "X")
