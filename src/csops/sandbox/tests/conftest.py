"""The sandbox tests talk to moto's EC2 server over HTTP on loopback, as boto3 talks to AWS."""

from __future__ import annotations

import datetime as dt
import logging
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from csops.conftest import free_port

REGION = "us-east-1"
AMI = "ami-12c6146b"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def ec2(moto_url, settings, monkeypatch):
    """A boto3 EC2 client on a fresh moto account; the product's clients use the same endpoint."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(name, value)
    settings.CSOPS_SANDBOX_ENDPOINT_URL = moto_url
    return boto3.client("ec2", region_name=REGION, endpoint_url=moto_url)


@pytest.fixture
def launch(ec2):
    """Start instances with tags (Name included unless name=None); returns their ids."""

    def start(
        count: int = 1,
        *,
        name: str | None = "jd-runner",
        tags: dict | None = None,
        instance_type: str = "t3.micro",
        protected: bool = False,
        keep_volume: bool = False,
    ) -> list[str]:
        pairs = [
            {"Key": k, "Value": v} for k, v in {**({"Name": name} if name else {}), **(tags or {})}.items()
        ]
        extra = {"TagSpecifications": [{"ResourceType": "instance", "Tags": pairs}]} if pairs else {}
        if keep_volume:
            extra["BlockDeviceMappings"] = [
                {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": False}}
            ]
        started = ec2.run_instances(
            ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=instance_type, **extra
        )
        ids = [i["InstanceId"] for i in started["Instances"]]
        for instance_id in ids if protected else []:
            ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
        return ids

    return start


def described(ec2, instance_id: str) -> dict:
    """State name and tags of one instance (terminated ones included)."""
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return {
        "state": found["State"]["Name"],
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
        "volumes": [m["Ebs"]["VolumeId"] for m in found.get("BlockDeviceMappings", []) if "Ebs" in m],
    }


DAY0 = dt.date(2026, 12, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)
