"""The governance pages: configuration, change requests, reviews, impact preview, changelog."""

from __future__ import annotations

import csv
import io

import pytest
import yaml
from django.test import Client

from csops.core.configuration import REGISTRY, dump_object
from csops.core.models import ConfigVersion, Role, User
from csops.governance import actions
from csops.governance.models import ChangeRequest, Status, Verdict
from csops.rules.models import Rule

RULE = "Upcoming renewal"
EDIT = f"/governance/config/rules/propose/?key={RULE.replace(' ', '+')}"


@pytest.fixture
def second_admin(users) -> Client:
    user = User.objects.create_user(username="admin-2", password="pw", role=Role.ADMIN, first_name="Second")
    client = Client()
    client.force_login(user)
    return client


def rule_text(**changes) -> str:
    data = dump_object(REGISTRY["rules"], Rule.objects.get(name=RULE))
    data.pop("position")
    return yaml.safe_dump({**data, **changes}, sort_keys=False)


def proposal(**fields) -> dict:
    return {"definition": rule_text(description="Three months out."), "title": "Shorter lead time",
            "why": "CSMs asked for it.", **fields}


def test_an_admin_proposes_a_rule_change_and_another_approves_it(client_as, second_admin):
    admin = client_as("admin")
    page = admin.get(EDIT)
    assert page.status_code == 200 and "when:" in page.content.decode()
    response = admin.post(EDIT, proposal())
    change = ChangeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/governance/changes/{change.number}/"
    detail = admin.get(response["Location"]).content.decode()
    assert "-description: Four months before the renewal date." in detail
    assert "+description: Three months out." in detail and "you cannot approve your own" in detail
    refused = admin.post(f"/governance/changes/{change.number}/review/", {"verdict": "approve"})
    assert refused.status_code == 400 and "cannot review your own change" in refused.content.decode()

    done = second_admin.post(f"/governance/changes/{change.number}/review/", {"verdict": "approve"})
    assert done.status_code == 302
    change.refresh_from_db()
    assert change.status == Status.APPLIED and Rule.objects.get(name=RULE).description == "Three months out."
    changelog = admin.get("/governance/changelog/").content.decode()
    assert "Shorter lead time" in changelog and "CSMs asked for it." in changelog and "Second" in changelog


def test_bad_input_names_the_field_and_writes_nothing(client_as):
    admin = client_as("admin")
    response = admin.post(EDIT, proposal(definition="name: Upcoming renewal\nwhen: [oops"))
    assert response.status_code == 400 and "Not valid YAML (line 2)" in response.content.decode()
    response = admin.post(EDIT, proposal(why=""))
    assert response.status_code == 400 and "Why" in response.content.decode()
    response = admin.post(EDIT, proposal(definition=rule_text(when=["no_such_field > 1"])))
    assert response.status_code == 400 and "no_such_field" in response.content.decode()
    response = admin.post("/governance/config/rules/propose/", proposal(definition=rule_text()))
    assert response.status_code == 400 and "exists already" in response.content.decode()
    assert not ChangeRequest.objects.exists()
    assert admin.get("/governance/config/widgets/").status_code == 404
    assert admin.get("/governance/config/rules/object/?key=Nope").status_code == 404


def test_who_may_do_what(client_as):
    viewer, csm = client_as("viewer"), client_as("csm")
    for url in ("/governance/config/", "/governance/config/rules/", "/governance/changes/",
                "/governance/changelog/", f"/governance/config/rules/object/?key={RULE}"):
        assert viewer.get(url).status_code == 200, url
    assert csm.get(EDIT).status_code == 403 and csm.post(EDIT, proposal()).status_code == 403
    assert not ChangeRequest.objects.exists()


def test_optional_kinds_apply_from_the_form(client_as):
    admin = client_as("admin")
    url = "/governance/config/geos/propose/"
    response = admin.post(url, {"definition": "name: MEA\ndescription: Middle East", "title": "Add MEA",
                                "why": "New region."})
    change = ChangeRequest.objects.get()
    assert response.status_code == 302 and change.status == Status.APPLIED
    assert "Applied" in admin.get(response["Location"]).content.decode()


def test_restore_a_version_from_the_object_page(client_as, second_admin, users):
    admin = client_as("admin")
    actions.review(
        actions.propose([actions.parse_object("rules", rule_text(description="Changed."), key=RULE)],
                        author=users["admin"], title="Change", why="Try."),
        reviewer=User.objects.get(username="admin-2"), verdict=Verdict.APPROVE,
    )
    page = admin.get(f"/governance/config/rules/object/?key={RULE}").content.decode()
    assert "Version 2" in page and "Restore version 1" in page
    url = f"/governance/config/rules/restore/?key={RULE}&version=1"
    assert "+description: Four months before the renewal date." in admin.get(url).content.decode()
    response = admin.post(url, {"title": "Restore", "why": "Changed confused CSMs."})
    restore = ChangeRequest.objects.get(title="Restore")
    assert response.status_code == 302 and restore.status == Status.OPEN
    second_admin.post(f"/governance/changes/{restore.number}/review/", {"verdict": "approve"})
    assert Rule.objects.get(name=RULE).description == "Four months before the renewal date."
    assert ConfigVersion.objects.filter(kind="rules", key=RULE).count() == 3


def test_request_changes_then_revise_from_the_page(client_as, second_admin):
    admin = client_as("admin")
    admin.post(EDIT, proposal())
    change = ChangeRequest.objects.get()
    review = f"/governance/changes/{change.number}/review/"
    assert second_admin.post(review, {"verdict": "request_changes"}).status_code == 400  # says what
    second_admin.post(review, {"verdict": "request_changes", "body": "Two months, please."})
    change.refresh_from_db()
    assert change.status == Status.CHANGES_REQUESTED
    item = change.items.get()
    response = admin.post(f"/governance/changes/{change.number}/revise/",
                          {f"item_{item.pk}": rule_text(description="Two months out."), "note": "Done."})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == Status.OPEN and change.items.get().after["description"] == "Two months out."


def test_list_pages_keep_their_query_counts(client_as, users, django_assert_max_num_queries):
    admin = client_as("admin")
    for n in range(12):
        text = f"name: Geo {n}\ndescription: test"
        diff = actions.parse_object("geos", text)
        actions.propose([diff], author=users["admin"], title=f"Geo {n}", why="t")
    with django_assert_max_num_queries(10):
        assert admin.get("/governance/changes/").status_code == 200
    with django_assert_max_num_queries(10):
        response = admin.get("/governance/changelog/")
    assert response.content.decode().count("Geo ") >= 12


def test_changelog_exports(client_as, users):
    admin = client_as("admin")
    actions.propose([actions.parse_object("geos", "name: MEA")], author=users["admin"], title="Add MEA",
                    why="A new region, with a comma, and \"quotes\".")
    exported = admin.get("/governance/changelog/?export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0][:3] == ["Applied", "!", "What"] and rows[1][2] == "Add MEA"
    assert rows[1][4] == "A new region, with a comma, and \"quotes\"."
    markdown = admin.get("/governance/changelog/?export=md")
    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert "## !1 Add MEA" in text and "Reviewed by: no review (optional)" in text and "&quot;" not in text


def test_impact_preview_counts_current_and_proposed(seeded, users):
    """The rule as it is and as proposed, dry-run over the seeded accounts (the worker's task)."""
    from csops.governance.tasks import preview_impact

    wide = ["csm_assigned or csm_pool", "days_until(renewal_date) >= 0"]
    change = actions.propose([actions.parse_object("rules", rule_text(when=wide), key=RULE)],
                             author=users["admin"], title="Every future renewal", why="Try.")
    preview_impact.call(change.number)
    change.refresh_from_db()
    counts = change.impact[RULE]
    current, proposed = counts["current"], counts["proposed"]
    assert proposed["audience"] > current["audience"] >= 0
    assert proposed["actions"]["create_cta"] >= current["actions"]["create_cta"]
    assert Rule.objects.get(name=RULE).when != wide  # nothing applied


def test_the_django_admin_shows_configuration_read_only(client_as):
    from csops.customers.models import Segment

    admin = client_as("admin")
    scale = Segment.objects.get(name="Scale")
    assert admin.get(f"/admin/customers/segment/{scale.pk}/change/").status_code == 200  # to read
    response = admin.post(f"/admin/customers/segment/{scale.pk}/change/", {"name": "Scale", "arr_min": 1})
    assert response.status_code == 403 and Segment.objects.get(pk=scale.pk).arr_min != 1
    assert admin.get("/admin/customers/segment/add/").status_code == 403
    assert admin.post(f"/admin/customers/segment/{scale.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Segment.objects.filter(pk=scale.pk).exists()
