"""Peer-reviewed configuration changes: proposing, reviewing, applying, restoring, conflicts."""

from __future__ import annotations

import shutil
import threading

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, connections

from csops.cockpit.models import Playbook
from csops.core.configuration import REGISTRY, default_directory, dump_object
from csops.core.models import ConfigChange, ConfigVersion, Role, User
from csops.governance import actions
from csops.governance.models import ChangeRequest, Review, Status, Verdict
from csops.rules.models import Rule

RULE = "Upcoming renewal"


@pytest.fixture
def admins(users) -> tuple[User, User]:
    second = User.objects.create_user(
        username="admin-2", password="pw-for-tests", role=Role.ADMIN, email="admin2@example.com"
    )
    return users["admin"], second


def rule_yaml(**changes) -> str:
    data = dump_object(REGISTRY["rules"], Rule.objects.get(name=RULE))
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def propose_rule_change(author: User, **changes) -> ChangeRequest:
    diff = actions.parse_object("rules", rule_yaml(**changes), key=RULE)
    return actions.propose(
        [diff],
        author=author,
        title="Renewal CTA three months out",
        why="CSMs asked for less lead time (request #12).",
    )


def error_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


def test_a_rule_change_waits_for_another_admin_then_applies_as_one_version(admins):
    author, reviewer = admins
    before = Rule.objects.get(name=RULE).description
    change = propose_rule_change(author, description="Three months before the renewal date.")
    assert change.status == Status.OPEN and change.review_required
    assert Rule.objects.get(name=RULE).description == before  # not live until approved
    [item] = change.items.all()
    assert item.verb == "update" and item.before["description"] == before
    versions = ConfigVersion.objects.filter(kind="rules", key=RULE).count()

    with pytest.raises(ValidationError) as excinfo:
        actions.review(change, reviewer=author, verdict=Verdict.APPROVE)
    assert "cannot review your own change" in error_of(excinfo)["verdict"][0]

    actions.review(change, reviewer=reviewer, verdict=Verdict.APPROVE)
    change.refresh_from_db()
    assert change.status == Status.APPLIED and change.applied_by == reviewer
    assert Rule.objects.get(name=RULE).description == "Three months before the renewal date."
    assert ConfigVersion.objects.filter(kind="rules", key=RULE).count() == versions + 1
    assert change.config_change.actor == author
    assert change.config_change.message.startswith(f"!{change.number}")


def test_optional_kinds_apply_at_once_unless_the_author_asks_for_review(admins):
    author, _ = admins
    data = dump_object(REGISTRY["playbooks"], Playbook.objects.get(name="Upcoming Renewal"))
    data["description"] = "Renewal outreach, four months out."
    diff = actions.parse_object("playbooks", yaml.safe_dump(data), key="Upcoming Renewal")
    change = actions.propose([diff], author=author, title="Describe the renewal playbook", why="Clarity.")
    assert change.status == Status.APPLIED and not change.review_required and change.applied_by == author
    assert Playbook.objects.get(name="Upcoming Renewal").description == "Renewal outreach, four months out."

    data["description"] = "Renewal outreach."
    diff = actions.parse_object("playbooks", yaml.safe_dump(data), key="Upcoming Renewal")
    asked = actions.propose([diff], author=author, title="Shorter", why="Shorter.", ask_review=True)
    assert asked.status == Status.OPEN
    actions.apply_change(asked, actor=author)  # optional review: the author may still apply it
    asked.refresh_from_db()
    assert asked.status == Status.APPLIED


def test_what_and_why_are_required_and_bad_definitions_name_the_field(admins):
    author, _ = admins
    diff = actions.parse_object("rules", rule_yaml(description="x"), key=RULE)
    with pytest.raises(ValidationError) as excinfo:
        actions.propose([diff], author=author, title=" ", why="")
    assert set(error_of(excinfo)) == {"title", "why"}
    with pytest.raises(ValidationError) as excinfo:
        actions.parse_object("rules", "name: [unclosed", key=RULE)
    assert "Not valid YAML (line 1)" in error_of(excinfo)["definition"][0]
    with pytest.raises(ValidationError) as excinfo:
        actions.propose(
            [actions.parse_object("rules", rule_yaml(colour="red"), key=RULE)],
            author=author,
            title="t",
            why="w",
        )
    assert "rules 'Upcoming renewal': unknown field 'colour'" in error_of(excinfo)["definition"][0]
    bad_action = [{"create_cta": {"type": "No Such Type", "reason": "x"}}]
    with pytest.raises(ValidationError) as excinfo:
        propose_rule_change(author, actions=bad_action)
    assert "unknown CTA type 'No Such Type'" in error_of(excinfo)["definition"][0]
    with pytest.raises(ValidationError) as excinfo:
        propose_rule_change(author)
    assert "No changes" in error_of(excinfo)["definition"][0]
    with pytest.raises(ValidationError) as excinfo:
        actions.parse_object("rules", rule_yaml(name="Renamed"), key=RULE)
    assert "To rename" in error_of(excinfo)["definition"][0]
    assert not ChangeRequest.objects.exists()


def test_only_admins_propose_and_review(admins, users):
    with pytest.raises(ValidationError) as excinfo:
        propose_rule_change(users["csm"], description="x")
    assert "Only CS Ops admins" in error_of(excinfo)["author"][0]
    change = propose_rule_change(admins[0], description="x")
    for verdict in (Verdict.APPROVE, Verdict.COMMENT):
        with pytest.raises(ValidationError):
            actions.review(change, reviewer=users["csm"], verdict=verdict, body="looks fine")
    actions.review(change, reviewer=admins[0], verdict=Verdict.COMMENT, body="Tested on 5 accounts.")
    assert change.reviews.get().verdict == Verdict.COMMENT


def test_request_changes_revise_and_reject(admins):
    author, reviewer = admins
    change = propose_rule_change(author, description="x")
    with pytest.raises(ValidationError) as excinfo:
        actions.review(change, reviewer=reviewer, verdict=Verdict.REQUEST_CHANGES)
    assert "body" in error_of(excinfo)
    actions.review(change, reviewer=reviewer, verdict=Verdict.REQUEST_CHANGES, body="Say how far out.")
    change.refresh_from_db()
    assert change.status == Status.CHANGES_REQUESTED
    diff = actions.parse_object("rules", rule_yaml(description="Three months out."), key=RULE)
    with pytest.raises(ValidationError):
        actions.revise(change, [diff], author=reviewer)
    actions.revise(change, [diff], author=author, note="Said how far.")
    change.refresh_from_db()
    assert change.status == Status.OPEN and change.items.get().after["description"] == "Three months out."
    actions.review(change, reviewer=reviewer, verdict=Verdict.REJECT, body="We keep four months.")
    change.refresh_from_db()
    assert change.status == Status.REJECTED
    with pytest.raises(ValidationError):
        actions.review(change, reviewer=reviewer, verdict=Verdict.APPROVE)
    assert [r.verdict for r in change.reviews.all()] == ["request_changes", "revise", "reject"]
    assert Rule.objects.get(name=RULE).description != "Three months out."


def test_a_change_made_stale_by_another_is_refused_and_nothing_is_recorded(admins):
    author, reviewer = admins
    first = propose_rule_change(author, description="First.")
    second = propose_rule_change(author, description="Second.")
    actions.review(first, reviewer=reviewer, verdict=Verdict.APPROVE)
    with pytest.raises(ValidationError) as excinfo:
        actions.review(second, reviewer=reviewer, verdict=Verdict.APPROVE)
    assert "changed since this change was proposed" in error_of(excinfo)["definition"][0]
    second.refresh_from_db()
    assert second.status == Status.OPEN and not second.reviews.exists()
    assert Rule.objects.get(name=RULE).description == "First."


def test_any_version_can_be_restored_through_a_reviewed_change(admins):
    author, reviewer = admins
    original = dump_object(REGISTRY["rules"], Rule.objects.get(name=RULE))
    actions.review(
        propose_rule_change(author, description="Changed."), reviewer=reviewer, verdict=Verdict.APPROVE
    )
    first = ConfigVersion.objects.filter(kind="rules", key=RULE).order_by("version").first()
    restore = actions.propose(
        [actions.restore_diff(first)],
        author=author,
        title=f"Restore {RULE} to version {first.version}",
        why="It confused CSMs.",
    )
    assert restore.status == Status.OPEN
    actions.review(restore, reviewer=reviewer, verdict=Verdict.APPROVE)
    assert dump_object(REGISTRY["rules"], Rule.objects.get(name=RULE)) == original
    assert ConfigVersion.objects.filter(kind="rules", key=RULE).count() == 3


def test_removing_objects(admins):
    author, reviewer = admins
    in_use = actions.object_diff("playbooks", "Upcoming Renewal", None)
    with pytest.raises(ValidationError) as excinfo:
        actions.propose([in_use], author=author, title="Drop it", why="Unused?")
    assert error_of(excinfo)["definition"][0].startswith(
        "rules 'Upcoming renewal' would break: when: rule 'Upcoming renewal': action 1 (create_cta): "
        "unknown playbook 'Upcoming Renewal'"
    )
    change = actions.propose(
        [actions.object_diff("rules", RULE, None)],
        author=author,
        title="Retire the renewal rule",
        why="Renewals moved to Salesforce.",
    )
    assert Rule.objects.filter(name=RULE).exists()
    actions.review(change, reviewer=reviewer, verdict=Verdict.APPROVE)
    assert not Rule.objects.filter(name=RULE).exists()


def test_review_policy_cannot_make_rules_optional_but_makes_others_required(admins):
    author, reviewer = admins
    text = yaml.safe_dump({"name": "rules", "review": "optional", "position": 0})
    with pytest.raises(ValidationError) as excinfo:
        actions.propose(
            [actions.parse_object("review_policies", text, key="rules")], author=author, title="t", why="w"
        )
    assert "always peer reviewed" in error_of(excinfo)["definition"][0]
    text = yaml.safe_dump({"name": "cta_types", "review": "required"})
    change = actions.propose(
        [actions.parse_object("review_policies", text)],
        author=author,
        title="Review CTA types",
        why="They feed reports.",
    )
    actions.review(change, reviewer=reviewer, verdict=Verdict.APPROVE)
    assert actions.review_level("cta_types") == "required"


def test_config_apply_opens_a_change_request_and_config_review_approves_it(admins, tmp_path, capsys):
    author, reviewer = admins
    directory = tmp_path / "config"
    shutil.copytree(default_directory(), directory)
    rules = yaml.safe_load((directory / "rules.yaml").read_text())
    rules[1]["description"] = "Three months before the renewal date."
    (directory / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    with pytest.raises(CommandError, match="--message"):
        call_command("config", "apply", str(directory), "--as", author.username)
    call_command("config", "apply", str(directory), "--as", author.username, "-m", "Less lead time.")
    out = capsys.readouterr().out
    change = ChangeRequest.objects.get()
    assert f"Change request !{change.number} opened" in out and "needs another admin's approval" in out
    assert change.title == "config: change rules 'Upcoming renewal'" and change.source == str(directory)
    with pytest.raises(CommandError, match="cannot review your own change"):
        call_command("config", "review", str(change.number), "--approve", "--as", author.username)
    call_command("config", "review", str(change.number), "--approve", "--as", reviewer.username)
    assert "Applied" in capsys.readouterr().out
    assert Rule.objects.get(name=RULE).description == "Three months before the renewal date."
    call_command("config", "apply", str(directory), "--as", author.username, "-m", "Again.")
    assert "No changes" in capsys.readouterr().out and ChangeRequest.objects.count() == 1


def test_the_first_configuration_is_applied_without_review(db):
    assert actions.propose_directory(default_directory(), author=None, why="") is None
    assert ConfigChange.objects.count() == 1 and Rule.objects.exists()


def test_the_changelog_lists_applied_changes_with_their_reviewers(admins):
    from csops.governance.selectors import changelog

    author, reviewer = admins
    applied = propose_rule_change(author, description="Changed.")
    actions.review(applied, reviewer=reviewer, verdict=Verdict.APPROVE, body="Checked the impact.")
    propose_rule_change(author, description="Still open.")
    [entry] = changelog()
    assert entry.pk == applied.pk and entry.approvers() == [reviewer]
    assert Review.objects.filter(verdict=Verdict.APPROVE).count() == 1


def test_demo_change_requests(seeded, admins):
    from csops.governance.synthetic import seed_changes

    assert seed_changes("admin-user", "admin-2") == 4
    statuses = dict(ChangeRequest.objects.values_list("title", "status"))
    assert statuses == {
        "Account Triage: tell the AE the plan": Status.APPLIED,
        "Large opportunity: say what the CTA is for": Status.APPLIED,
        "Large opportunity: from $25,000": Status.OPEN,
        "Scale: note the ceiling review": Status.CHANGES_REQUESTED,
    }
    impact = ChangeRequest.objects.get(status=Status.OPEN).impact["Large opportunity"]
    assert impact["proposed"]["audience"] >= impact["current"]["audience"]
    assert seed_changes("admin-user", "admin-2") == 0


@pytest.mark.django_db(transaction=True)
def test_two_admins_approving_at_once_take_turns(users):
    """Two approvals in two connections at once: different objects both apply, as two numbered
    changes; a second change to the same object is refused as stale, not a database error."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is meaningful on PostgreSQL (run in CI)")
    author = users["admin"]
    reviewers = [User.objects.create_user(username=f"admin-{n}", role=Role.ADMIN) for n in (2, 3)]

    def race(changes: list[ChangeRequest]) -> list[str]:
        barrier, outcomes = threading.Barrier(2), []

        def approve(change: ChangeRequest, reviewer: User) -> None:
            try:
                barrier.wait()
                actions.review(change, reviewer=reviewer, verdict=Verdict.APPROVE)
                outcomes.append("applied")
            except ValidationError as exc:
                outcomes.append(" ".join(exc.messages))
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=approve, args=pair) for pair in zip(changes, reviewers, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(outcomes)

    geos = [
        actions.propose(
            [actions.parse_object("geos", f"name: Geo {n}")],
            author=author,
            title=f"Geo {n}",
            why="t",
            ask_review=True,
        )
        for n in (1, 2)
    ]
    assert race(geos) == ["applied", "applied"]
    numbers = sorted(
        ChangeRequest.objects.filter(pk__in=[g.pk for g in geos]).values_list(
            "config_change__number", flat=True
        )
    )
    assert len(set(numbers)) == 2
    same = [propose_rule_change(author, description=f"Version {n}.") for n in (1, 2)]
    outcomes = race(same)
    assert outcomes.count("applied") == 1
    assert "changed since this change was proposed" in next(o for o in outcomes if o != "applied")
