"""The demo's sandbox account: a local EC2 (moto's server on loopback) holding a realistic test
account, and a few past days of the cleanup policy run over it, as the daily schedule would have.

Nothing here talks to AWS itself: the demo points the product's EC2 endpoint at the local server
and replaces any AWS credentials in the environment with fake ones."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import urllib.request
from dataclasses import dataclass, field

import boto3
from django.conf import settings
from django.utils import timezone

from csops.core.models import User
from csops.sandbox.actions import run_cleanup
from csops.sandbox.models import SandboxInstance, SandboxRun

REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of moto's stock images
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_SESSION_TOKEN": "demo",
    "AWS_DEFAULT_REGION": REGION,
}
# Where else boto3 finds credentials: none of them may reach the demo.
OTHER_CREDENTIALS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)
TYPES = ["t3.micro", "t3.small", "t3.medium", "t3.large", "t3.xlarge", "m5.large", "m5.xlarge", "c5.xlarge"]
PURPOSES = [
    "GitLabRunner",
    "EKS-demo",
    "Terraform-POC",
    "Geo-secondary",
    "Vault-demo",
    "k8s-agent",
    "Ansible-lab",
    "GitLab-HA",
    "Runner-autoscale",
    "SAST-demo",
    "Gitaly-cluster",
    "Review-apps",
    "Pages-demo",
    "Registry-mirror",
    "Praefect-test",
    "Omnibus-upgrade",
]


_local_url = ""  # the local EC2 this process started


class Unavailable(RuntimeError):
    """The local EC2 cannot run here (moto is not installed)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _without_real_credentials() -> None:
    for name in OTHER_CREDENTIALS:
        os.environ.pop(name, None)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def isolate_from_aws() -> None:
    """No AWS credentials in this process: the worker's daily sandbox-clean does nothing."""
    for name in FAKE_CREDENTIALS:
        os.environ.pop(name, None)
    _without_real_credentials()


def start_local_ec2() -> str:
    """Start moto's server on a free loopback port for the life of this process (a daemon thread),
    point the sandbox cleanup at it with fake credentials, and return its URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise Unavailable(f"moto is not importable ({exc}); pip install 'moto[server]'") from exc
    global _local_url
    if _local_url:  # a second demo in the same process: the same server, emptied
        urllib.request.urlopen(urllib.request.Request(f"{_local_url}/moto-api/reset", method="POST")).read()
    else:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        port = _free_port()
        ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
        _local_url = f"http://127.0.0.1:{port}"
    _without_real_credentials()
    os.environ.update(FAKE_CREDENTIALS)
    settings.CSOPS_SANDBOX_ENDPOINT_URL = _local_url
    return _local_url


def _client():
    return boto3.client("ec2", region_name=REGION, endpoint_url=settings.CSOPS_SANDBOX_ENDPOINT_URL)


@dataclass
class Spec:
    """An instance to launch: its name (None: unnamed), type, tags, and what is done to it after."""

    name: str | None
    instance_type: str
    tags: dict[str, str] = field(default_factory=dict)
    protected: bool = False
    stopped: bool = False


def _launch(ec2, specs: list[Spec]) -> list[str]:
    ids = []
    for spec in specs:
        tags = {**({"Name": spec.name} if spec.name else {}), **spec.tags}
        extra = {}
        if tags:
            pairs = [{"Key": k, "Value": v} for k, v in tags.items()]
            extra["TagSpecifications"] = [{"ResourceType": "instance", "Tags": pairs}]
        started = ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=spec.instance_type, **extra
        )
        instance_id = started["Instances"][0]["InstanceId"]
        if spec.protected:
            ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
        if spec.stopped:
            ec2.stop_instances(InstanceIds=[instance_id])
        ids.append(instance_id)
    return ids


def _set_tag(ec2, ids: list[str], key: str, value: str) -> None:
    if ids:
        ec2.create_tags(Resources=ids, Tags=[{"Key": key, "Value": value}])


class _Namer:
    """Names by the deployer's initials, as the policy asks: "jd-GitLabRunner"; owners are demo
    users, so their initials and email go together."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.owners = [
            (f"{u.first_name[:1]}{u.last_name[:1]}".lower() or u.username[:2], u.email)
            for u in User.objects.filter(is_active=True, is_pool=False)
            .exclude(email="")
            .exclude(first_name="")
            .order_by("username")[:12]
        ]
        self.used: set[str] = set()

    def spec(self, instance_type: str | None = None, *, owned: bool = True, **tags: str) -> Spec:
        owner = self.rng.choice(self.owners) if owned and self.owners and self.rng.random() < 0.6 else None
        initials = owner[0] if owner else "".join(self.rng.choice("abcdehjklmnprstw") for _ in range(2))
        name = f"{initials}-{self.rng.choice(PURPOSES)}"
        while name in self.used:
            name = f"{initials}-{self.rng.choice(PURPOSES)}-{self.rng.randint(2, 9)}"
        self.used.add(name)
        all_tags = {**({"Owner": owner[1]} if owner else {}), **tags}
        return Spec(name, instance_type or self.rng.choice(TYPES), all_tags)


def _dates(today: dt.date) -> dict[str, str]:
    return {f"d{n:+d}": (today + dt.timedelta(days=n)).isoformat() for n in range(-45, 61)}


def _account(namer: _Namer, today: dt.date) -> dict[str, list[Spec]]:
    """The account before the first run csops makes, by what happens to each instance after."""
    d = _dates(today)
    rng = namer.rng
    return {
        # Untagged and running: tagged on the first run, expiring today; owners extend some.
        "fresh": [namer.spec() for _ in range(14)],
        # No Name tag: stopped and tagged Unnamed on the first run.
        "unnamed": [Spec(None, rng.choice(TYPES)) for _ in range(4)],
        # Long expired and still running: stopped on the first run, snapshotted and terminated a week later.
        "stale": [namer.spec(Discovered=d["d-45"], Expiration=d["d-31"]) for _ in range(3)],
        # Expiring a week after the first run: stopped then; due for snapshot and termination today.
        "lapsing": [namer.spec(Discovered=d["d-21"], Expiration=d["d-7"]) for _ in range(3)],
        # Expiring yesterday: stopped by yesterday's run, in their grace week.
        "grace": [namer.spec(Discovered=d["d-15"], Expiration=d["d-1"]) for _ in range(3)],
        # Extended by their owners before csops came.
        "extended": [
            namer.spec(Discovered=d["d-20"], Expiration=d[f"d+{rng.randint(20, 55)}"]) for _ in range(6)
        ],
        "permanent": [
            Spec(
                "cw-GitLab-demo-portal",
                "m5.2xlarge",
                {"PermanentReason": "Shared demo portal for the SA team"},
            ),
            Spec("hn-Runner-fleet-manager", "t3.large", {"PermanentReason": "Manages the demo runner fleet"}),
            Spec("el-Legacy-Jenkins", "m5.large"),  # protected, but nobody said why
        ],
        "unreadable": [namer.spec("r5.large", Discovered=d["d-10"], Expiration="end of Q3")],
    }


def _protect(ec2, ids: list[str]) -> None:
    for instance_id in ids:
        ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})


def seed_sandbox(today: dt.date | None = None, seed: int = 1) -> str:
    """A test account on the local EC2, then three past days of the policy and today's dry run:
    14 days ago the first run tags and stops, 7 days ago it snapshots and terminates, yesterday it
    stops the newly expired and emails owners; today a dry run shows what the schedule will do.
    With runs already recorded (a second demo on the same data), the account is rebuilt from the
    recorded inventory instead and the history is left as it is. Returns the demo's summary line."""
    if SandboxRun.objects.exists():
        return _restore()
    today = today or timezone.localdate()
    d = _dates(today)
    ec2, namer = _client(), _Namer(random.Random(seed))
    plan = _account(namer, today)
    ids = {kind: _launch(ec2, specs) for kind, specs in plan.items()}
    _protect(ec2, ids["permanent"])
    runs = [run_cleanup(today=today - dt.timedelta(days=14))]

    fresh = ids["fresh"]
    for instance_id in fresh[:6]:  # owners extend, by a month or two
        _set_tag(ec2, [instance_id], "Expiration", d[f"d+{namer.rng.choice([30, 45, 60])}"])
    _launch(ec2, [namer.spec() for _ in range(3)])  # new since: tagged next run
    runs.append(run_cleanup(today=today - dt.timedelta(days=7)))

    _set_tag(ec2, fresh[6:8], "Expiration", d["d+2"])
    _set_tag(ec2, fresh[8:9], "Expiration", d["d+3"])
    runs.append(run_cleanup(today=today - dt.timedelta(days=1)))

    ec2.start_instances(InstanceIds=ids["lapsing"][:1])  # started again, expiration not extended
    _launch(ec2, [namer.spec() for _ in range(3)])  # launched this morning
    runs.append(run_cleanup(today=today, dry_run=True))
    return _summary(runs)


def _summary(runs: list[SandboxRun]) -> str:
    first, week, yesterday, dry = runs
    terminated = week.counts.get("snapshot_terminate", 0)
    return (
        f"{dry.instances} instances on a local EC2 (moto), {len(runs)} runs: {first.counts.get('tag', 0)} "
        f"tagged and {first.counts.get('stop', 0)} stopped 14 days ago, {terminated} snapshotted and "
        f"terminated 7 days ago, {yesterday.counts.get('stop', 0)} stopped yesterday, and today's dry run "
        f"planning {_plan(dry.counts)}; the worker runs the daily sandbox-clean against it (/sandbox/)"
    )


def _plan(counts: dict[str, int]) -> str:
    return (
        ", ".join(f"{n} {a.replace('_', ' ')}" for a, n in sorted(counts.items()) if a != "none") or "nothing"
    )


def _restore() -> str:
    """The local EC2 starts empty with each demo: rebuild the instances the records describe (same
    names, types, tags, states and protection; EC2 gives them new ids), leaving the run history as
    it is. The next run (the daily schedule, or `csops sandbox clean`) refreshes the report."""
    inventory = list(SandboxInstance.objects.order_by("instance_id"))
    specs = [
        Spec(
            None,
            i.instance_type or "t3.micro",
            dict(i.tags),
            protected=bool(i.protected),
            stopped=i.state in ("stopping", "stopped"),
        )
        for i in inventory
    ]
    _launch(_client(), specs)
    runs = SandboxRun.objects.count()
    return (
        f"{len(specs)} instances rebuilt on a local EC2 (moto) from the recorded inventory (new instance "
        f"ids until the next run refreshes the report); the {runs} recorded runs are kept; the worker runs "
        "the daily sandbox-clean against it (/sandbox/)"
    )
