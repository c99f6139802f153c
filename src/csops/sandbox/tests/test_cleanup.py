"""Every rule of the cleanup policy, run against moto's EC2 server over HTTP with a clock moved day
by day: tagging once, extension honoured, stop then snapshot then terminate, protection, unnamed,
bad tags, the termination cap, the dry run, a failing instance, the owners' emails."""

from __future__ import annotations

import pytest

from csops.programs.models import OutboxMessage
from csops.sandbox.actions import PolicyMissing, run_cleanup
from csops.sandbox.models import RunStatus, SandboxAction, SandboxInstance, SandboxPolicy
from csops.sandbox.tests.conftest import day, described


@pytest.fixture
def policy(config):
    return SandboxPolicy.objects.get(name="default")


def test_new_instances_are_tagged_once(ec2, launch, policy):
    [instance] = launch()
    run = run_cleanup(today=day(0))
    assert run.status == RunStatus.DONE and run.counts == {"tag": 1}
    tags = described(ec2, instance)["tags"]
    assert (tags["Discovered"], tags["Expiration"]) == ("2026-12-01", "2026-12-15")
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "Expiration", "Value": "2027-01-31"}])  # extended
    again = run_cleanup(today=day(1))
    assert again.counts == {"none": 1}
    assert described(ec2, instance)["tags"]["Expiration"] == "2027-01-31"  # never re-tagged
    assert run_cleanup(today=day(40)).counts == {"none": 1}  # the extension is honoured
    assert described(ec2, instance)["state"] == "running"
    saved = SandboxInstance.objects.get(instance_id=instance)
    assert (saved.category, str(saved.expiration)) == ("active", "2027-01-31")


def test_expiry_stops_then_snapshots_and_terminates(ec2, launch, policy):
    [instance] = launch(keep_volume=True)
    run_cleanup(today=day(0))
    [volume] = described(ec2, instance)["volumes"]
    stopped = run_cleanup(today=day(14))
    assert stopped.counts == {"stop": 1}
    now = described(ec2, instance)
    assert now["state"] == "stopped"
    assert (now["tags"]["StoppedOn"], now["tags"]["ExpirationAtStop"]) == ("2026-12-15", "2026-12-15")
    assert run_cleanup(today=day(20)).counts == {"none": 1}  # six days into the grace week
    done = run_cleanup(today=day(21))
    assert done.counts == {"snapshot_terminate": 1}
    assert described(ec2, instance)["state"] == "terminated"
    action = SandboxAction.objects.get(run=done, instance_id=instance)
    [snapshot] = action.snapshots
    found = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    assert found["VolumeId"] == volume and found["State"] == "completed"
    assert {t["Key"]: t["Value"] for t in found["Tags"]}["SourceInstance"] == instance
    assert not ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume]}])["Volumes"]
    assert action.tags_before["StoppedOn"] == "2026-12-15" and action.outcome == "done"
    assert not SandboxInstance.objects.filter(instance_id=instance).exists()


def test_running_again_with_the_expiry_unchanged_is_terminated(ec2, launch, policy):
    [instance] = launch()
    run_cleanup(today=day(0))
    run_cleanup(today=day(14))
    ec2.start_instances(InstanceIds=[instance])  # the owner started it without extending it
    run = run_cleanup(today=day(16))
    assert run.counts == {"terminate": 1}
    assert described(ec2, instance)["state"] == "terminated"
    assert "expiration not extended" in SandboxAction.objects.get(run=run).reason


def test_an_extension_after_the_stop_is_honoured(ec2, launch, policy):
    [instance] = launch()
    run_cleanup(today=day(0))
    run_cleanup(today=day(14))
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "Expiration", "Value": "2027-02-01"}])
    ec2.start_instances(InstanceIds=[instance])
    assert run_cleanup(today=day(30)).counts == {"none": 1}
    assert described(ec2, instance)["state"] == "running"


def test_protected_instance_is_never_touched(ec2, launch, policy):
    [bare] = launch(protected=True)
    [explained] = launch(protected=True, tags={"PermanentReason": "Shared GitLab demo server"})
    for n in (0, 14, 30):
        run = run_cleanup(today=day(n))
        assert run.counts == {"none": 2}
    assert described(ec2, bare) == {**described(ec2, bare), "state": "running", "tags": {"Name": "jd-runner"}}
    report = SandboxAction.objects.get(run=run, instance_id=bare)
    assert report.action == "report" and "without a PermanentReason tag" in report.error
    assert not SandboxAction.objects.filter(run=run, instance_id=explained).exists()
    assert set(SandboxInstance.objects.values_list("category", flat=True)) == {"permanent"}


def test_unnamed_instance_is_stopped_and_tagged(ec2, launch, policy):
    [instance] = launch(name=None)
    run = run_cleanup(today=day(0))
    assert run.counts == {"stop": 1}
    now = described(ec2, instance)
    assert now["state"] == "stopped"
    assert (now["tags"]["Unnamed"], now["tags"]["Expiration"]) == ("2026-12-01", "2026-12-15")
    assert run_cleanup(today=day(1)).counts == {"none": 1}  # stopped and tagged: nothing more


def test_unreadable_tags_are_reported_and_left_alone(ec2, launch, policy):
    [instance] = launch(tags={"Discovered": "2026-11-01", "Expiration": "next tuesday"})
    for n in (0, 30, 100):
        run = run_cleanup(today=day(n))
        assert run.counts == {"none": 1}
    assert described(ec2, instance)["state"] == "running"
    assert "not a date: 'next tuesday'" in SandboxAction.objects.get(run=run).error
    assert SandboxInstance.objects.get().category == "bad_tag"


def test_custodian_mark_for_op_tags_are_read_and_can_be_written(ec2, launch, policy):
    [marked] = launch(
        tags={"Discovered": "2026/11/01", "Expiration": "Resource does not meet policy: stop@2026/11/20"}
    )
    assert run_cleanup(today=day(0)).counts == {"stop": 1}  # expired on 20 Nov
    policy.date_format = "custodian"
    policy.save()
    [fresh] = launch()
    run_cleanup(today=day(1))
    assert described(ec2, fresh)["tags"]["Expiration"] == "Sandbox expiry: terminate@2026/12/16"
    assert described(ec2, marked)["state"] == "stopped"


def test_the_termination_cap_stops_the_run_before_it_acts(ec2, launch, policy):
    ids = launch(3)
    run_cleanup(today=day(0))
    run_cleanup(today=day(14))
    policy.max_terminations = 2
    policy.save()
    run = run_cleanup(today=day(21))
    assert run.status == RunStatus.REFUSED and "3 terminations planned" in run.message
    assert {described(ec2, i)["state"] for i in ids} == {"stopped"}
    assert set(SandboxAction.objects.filter(run=run).values_list("outcome", flat=True)) == {"skipped"}
    assert not ec2.describe_snapshots(Filters=[{"Name": "tag-key", "Values": ["SourceInstance"]}])[
        "Snapshots"
    ]


def test_dry_run_plans_every_rule_and_changes_nothing(ec2, launch, policy):
    [named] = launch()
    [unnamed] = launch(name=None)
    [expired] = launch(tags={"Discovered": "2026-10-01", "Expiration": "2026-10-15"})
    [waited] = launch(
        tags={
            "Discovered": "2026-10-01",
            "Expiration": "2026-10-15",
            "StoppedOn": "2026-10-15",
            "ExpirationAtStop": "2026-10-15",
        }
    )
    ec2.stop_instances(InstanceIds=[waited])
    before = {i: described(ec2, i) for i in (named, unnamed, expired, waited)}
    lines = []
    run = run_cleanup(today=day(0), dry_run=True, progress=lines.append)
    assert run.status == RunStatus.PLANNED and run.counts == {"tag": 1, "stop": 2, "snapshot_terminate": 1}
    assert {i: described(ec2, i) for i in before} == before
    plan = "\n".join(lines)
    assert f"{waited}" in plan and "snapshot_terminate" in plan and "Dry run: nothing changed." in plan
    assert set(SandboxAction.objects.filter(run=run).values_list("outcome", flat=True)) == {"planned"}


def test_one_failing_instance_does_not_stop_the_run(ec2, launch, policy):
    stale = {
        "Discovered": "2026-10-01",
        "Expiration": "2026-10-15",
        "StoppedOn": "2026-10-15",
        "ExpirationAtStop": "2026-10-15",
    }
    broken, fine = launch(2, tags=stale)
    ec2.stop_instances(InstanceIds=[broken, fine])
    [volume] = described(ec2, broken)["volumes"]

    def sabotage(line: str) -> None:  # after the plan, before acting: the volume goes away
        if line.startswith("Plan for"):
            ec2.detach_volume(VolumeId=volume, InstanceId=broken)
            ec2.delete_volume(VolumeId=volume)

    run = run_cleanup(today=day(0), progress=sabotage)
    assert run.status == RunStatus.PARTLY
    outcomes = dict(SandboxAction.objects.filter(run=run).values_list("instance_id", "outcome"))
    assert outcomes == {broken: "failed", fine: "done"}
    assert described(ec2, broken)["state"] == "stopped"  # no snapshot: not terminated
    assert described(ec2, fine)["state"] == "terminated"
    assert "snapshot" in SandboxAction.objects.get(run=run, instance_id=broken).error


def test_owners_are_told_before_expiry_once(ec2, launch, policy, smtp_server):
    [instance] = launch(tags={"Owner": "jd@example.com"})
    run_cleanup(today=day(0))
    assert run_cleanup(today=day(10)).counts == {"none": 1}
    assert not OutboxMessage.objects.filter(to="jd@example.com").exists()  # 5 days left: too early
    run_cleanup(today=day(12))
    run_cleanup(today=day(13))
    [message] = OutboxMessage.objects.filter(to="jd@example.com")
    assert message.subject == "Sandbox instance jd-runner expires on 2026-12-15"
    assert "edit its Expiration tag to a later date" in message.text and instance in message.text
    assert not OutboxMessage.objects.filter(to="jd@example.com").exclude(pk=message.pk).exists()


def test_unknown_policy_is_named(ec2, config):
    with pytest.raises(PolicyMissing, match="no sandbox policy 'nightly'"):
        run_cleanup(policy_name="nightly", today=day(0))
