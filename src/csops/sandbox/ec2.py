"""The EC2 side of a cleanup run: one client per region, every call counted, throttling and
transient errors retried with back-off (botocore's standard retry mode), calls batched where the
API takes many ids, and a failing batch retried one instance at a time so one bad instance never
stops the others."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from csops.sandbox.rules import RUNNING, STOPPED, Instance, Volume

BATCH = 500  # ids per tag, stop or terminate call
PAGE = 1000  # instances per describe page
ASKERS = 8  # threads asking for termination protection (one call per instance: no batch API)
ERRORS = (ClientError, BotoCoreError)


class Ec2:
    def __init__(self, region: str):
        self.region = region
        self.calls = 0
        self.client = boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=settings.CSOPS_SANDBOX_ENDPOINT_URL or None,
            config=Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=ASKERS * 2),
        )
        self.client.meta.events.register("before-call.ec2.*", self._count)

    def _count(self, **_) -> None:
        self.calls += 1

    def instances(self) -> list[Instance]:
        """Every instance not terminated, with its tags and EBS volumes."""
        found = []
        pages = self.client.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": [*RUNNING, *STOPPED]}],
            PaginationConfig={"PageSize": PAGE},
        )
        for page in pages:
            for reservation in page["Reservations"]:
                found.extend(self._instance(raw) for raw in reservation["Instances"])
        return found

    def _instance(self, raw: dict) -> Instance:
        return Instance(
            id=raw["InstanceId"],
            region=self.region,
            state=raw["State"]["Name"],
            instance_type=raw.get("InstanceType", ""),
            tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
            launched_at=raw.get("LaunchTime"),
            volumes=[
                Volume(m["Ebs"]["VolumeId"], m["Ebs"].get("DeleteOnTermination", True))
                for m in raw.get("BlockDeviceMappings", [])
                if "Ebs" in m
            ],
        )

    def protection(self, ids: list[str]) -> dict[str, bool | Exception]:
        """Each instance's termination protection (an exception where it could not be read)."""

        def ask(instance_id: str) -> bool | Exception:
            try:
                answer = self.client.describe_instance_attribute(
                    InstanceId=instance_id, Attribute="disableApiTermination"
                )
            except ERRORS as exc:
                return exc
            return bool(answer["DisableApiTermination"]["Value"])

        with ThreadPoolExecutor(ASKERS) as pool:
            return dict(zip(ids, pool.map(ask, ids), strict=True))

    def tag(self, ids: list[str], tags: dict[str, str]) -> dict[str, str]:
        pairs = [{"Key": k, "Value": v} for k, v in tags.items()]
        return self._batched(ids, lambda batch: self.client.create_tags(Resources=batch, Tags=pairs))

    def stop(self, ids: list[str]) -> dict[str, str]:
        return self._batched(ids, lambda batch: self.client.stop_instances(InstanceIds=batch))

    def terminate(self, ids: list[str]) -> dict[str, str]:
        return self._batched(ids, lambda batch: self.client.terminate_instances(InstanceIds=batch))

    def snapshot(self, instance: Instance) -> list[str]:
        """A snapshot of each of the instance's volumes, tagged with the instance; returns their ids."""
        name = instance.tags.get("Name", "")
        return [
            self.client.create_snapshot(
                VolumeId=volume.id,
                Description=f"csops sandbox cleanup: {instance.id} {name}".strip(),
                TagSpecifications=[{
                    "ResourceType": "snapshot",
                    "Tags": [{"Key": "SourceInstance", "Value": instance.id}, {"Key": "Name", "Value": name}],
                }],
            )["SnapshotId"]
            for volume in instance.volumes
        ]

    def wait_for_snapshots(self, ids: list[str]) -> None:
        if ids:
            self.client.get_waiter("snapshot_completed").wait(
                SnapshotIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
            )

    def delete_volumes(self, ids: Iterable[str]) -> dict[str, str]:
        """The volumes a terminated instance leaves (DeleteOnTermination off), once detached."""
        ids = list(ids)
        failed = {}
        if not ids:
            return failed
        try:
            self.client.get_waiter("volume_available").wait(
                VolumeIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 60}
            )
        except ERRORS as exc:
            return dict.fromkeys(ids, str(exc))
        for volume in ids:
            try:
                self.client.delete_volume(VolumeId=volume)
            except ERRORS as exc:
                failed[volume] = str(exc)
        return failed

    def _batched(self, ids: list[str], call: Callable[[list[str]], object]) -> dict[str, str]:
        """Call per batch of ids; a batch that fails is tried again one id at a time. Returns the
        ids that failed, with the reason."""
        failed: dict[str, str] = {}
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            try:
                call(batch)
                continue
            except ERRORS as exc:
                if len(batch) == 1:
                    failed[batch[0]] = str(exc)
                    continue
            for one in batch:
                try:
                    call([one])
                except ERRORS as exc:
                    failed[one] = str(exc)
        return failed
