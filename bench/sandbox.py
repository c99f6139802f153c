"""Benchmark: the sandbox cleanup policy (`run_cleanup`) over N EC2 instances on moto's EC2 server,
against a naive per-instance client doing the same work on the same server, in the same run.

    .venv/bin/python bench/sandbox.py [--instances N] [--sample S]     (default N=10,000, S=1,000)

Built first, not timed: a throw-away SQLite application database (in a temporary data directory),
migrated, with the default configuration applied and the default policy's `max_terminations` raised
to N (the expiry day terminates hundreds). moto's server (`ThreadedMotoServer`) runs in a child
process on a free loopback port, so that the product and the emulator do not share one interpreter
lock: AWS is another machine too. Two settings of that child, both about the emulator and neither
about csops: it knows one AMI only (`MOTO_AMIS_PATH`; by default moto filters thousands of AMIs for
each instance it launches), and its tag lookup for one resource reads that resource's tags instead
of scanning every tag of the account (moto's `describe_tags` with a resource-id filter is a full
scan, and it runs once per instance in every DescribeInstances answer: quadratic, minutes at 10,000
instances). The answers are the same; the child checks that on a sample at start-up.
N instances are launched with run_instances in chunks of 500, dated from DAY0 (2026-12-01):
- 44.5% named, never seen (the first run tags them: Discovered today, Expiration in 14 days);
- 20% named with an Owner email, never seen;
- 20% named, tagged by an earlier run, expiring 2 to 30 days after DAY0, half with an Owner;
- 7% unnamed (stopped and tagged Unnamed by the first run);
- 5% expired and stopped 5 days before DAY0 with their StoppedOn tags (awaiting termination);
- 2% expired 6 days before DAY0 and still running (stopped by the first run);
- 1% with termination protection, half with a PermanentReason tag (never touched);
- 0.5% with an Expiration tag that is not a date (reported, left alone).

Timed, each a `run_cleanup` of the default policy, with its seconds, `run.api_calls` and calls per
instance:
(a) DAY0, the first run: every instance is new to csops (tags, stops of the unnamed and expired);
(b) DAY0 + 1, steady state: nothing to do (one DescribeInstances; owners of instances expiring
    within 3 days emailed through the outbox);
(c) DAY0 + 14, an expiry day: the instances tagged on DAY0 expire and are stopped; the ones
    stopped before DAY0 and on DAY0 are snapshotted (one CreateSnapshot per volume: EC2 has no
    batch) and terminated.
Baseline, after each run, on the same server and account, through a client with the same retry
configuration: the naive per-instance way of doing that run's work, on a random sample of S of the
run's instances, extrapolated to all of them: per instance one DescribeInstances (InstanceIds=[id]);
for each one the run acted on, one DescribeInstanceAttribute (termination protection, as the
product asks), one CreateTags with the tags the run wrote, one StopInstances or TerminateInstances
as the run did; each instance's calls in a pool of 8 threads, as the product asks for protection.
Replayed after the run, these calls write the values the run wrote and stop or terminate instances
already stopped or terminated, so the account's state is the same for the next run. The snapshots
(one call per volume either way) are not replayed: that favours the baseline.
Checks (a failure makes the exit status non-zero): each run is DONE with the decisions the mix
implies, and the instances to terminate are terminated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

AMI = "ami-12c6146b"
REGION = "us-east-1"
DAY0 = dt.date(2026, 12, 1)
CHUNK = 500
THREADS = 8
# (share of N, kind); the first takes the rounding remainder.
MIX = [
    (0.445, "new"),
    (0.20, "new_owned"),
    (0.20, "tagged"),
    (0.07, "unnamed"),
    (0.05, "awaiting"),
    (0.02, "expired_running"),
    (0.01, "protected"),
    (0.005, "bad_tag"),
]

warnings.filterwarnings("ignore", category=DeprecationWarning)


def say(line: str) -> None:
    print(line, flush=True)


# --------------------------------------------------------------------------------------------
# moto's server (child process)
# --------------------------------------------------------------------------------------------


def serve(port: int, amis: Path) -> None:
    os.environ["MOTO_AMIS_PATH"] = str(amis)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.ec2.models.tags import TagBackend
    from moto.server import ThreadedMotoServer

    scan = TagBackend.describe_tags

    class OneResource:
        VALID_TAG_FILTERS = TagBackend.VALID_TAG_FILTERS

        def __init__(self, tags: dict) -> None:
            self.tags = tags

    def describe_tags(self, filters=None):
        ids = (filters or {}).get("resource-id") or []
        if set(filters or {}) != {"resource-id"} or len(ids) != 1 or any(c in ids[0] for c in "*?[\\"):
            return scan(self, filters)
        found = self.tags.get(ids[0])
        return scan(OneResource({ids[0]: found}), filters) if found else []

    # Same answers as the scan: checked on a few resources before serving.
    probe = TagBackend()
    probe.create_tags([f"i-{n:017x}" for n in range(300)], {"Name": "x", "Owner": "y"})
    probe.create_tags(["vol-0123456789abcdef0"], {"Name": "v"})
    for one in ("i-00000000000000007", "i-0000000000000012b", "vol-0123456789abcdef0", "i-ffffffffffffffff0"):
        assert describe_tags(probe, {"resource-id": [one]}) == scan(probe, {"resource-id": [one]})
    TagBackend.describe_tags = describe_tags

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


class Moto:
    def __init__(self, work: Path):
        import moto

        packed = Path(moto.__file__).parent / "ec2/resources/amis.json.gz"
        every = json.loads(gzip.decompress(packed.read_bytes()))
        amis = work / "amis.json"
        amis.write_text(json.dumps([a for a in every if a["ami_id"] == AMI]), encoding="utf-8")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port), "--amis", str(amis)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("moto's server did not start")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


# --------------------------------------------------------------------------------------------
# The account
# --------------------------------------------------------------------------------------------


def counts_of(n: int) -> dict[str, int]:
    counts = {kind: int(n * share) for share, kind in MIX}
    counts["new"] += n - sum(counts.values())
    return counts


def launch(client, n: int) -> dict[str, list[str]]:
    """The mix above; returns each kind's instance ids."""

    def start(count: int, tags: dict[str, str], kind: str, serial: list[int]) -> list[str]:
        ids: list[str] = []
        while len(ids) < count:
            size = min(CHUNK, count - len(ids))
            named = {"Name": f"{kind}-{serial[0]:04d}"} if kind != "unnamed" else {}
            serial[0] += 1
            pairs = [{"Key": k, "Value": v} for k, v in {**named, **tags}.items()]
            spec = {"TagSpecifications": [{"ResourceType": "instance", "Tags": pairs}]} if pairs else {}
            answer = client.run_instances(
                ImageId=AMI, MinCount=size, MaxCount=size, InstanceType=random.choice(TYPES), **spec
            )
            ids.extend(i["InstanceId"] for i in answer["Instances"])
        return ids

    def iso(day: dt.date) -> str:
        return day.isoformat()

    counts, serial, made = counts_of(n), [0], {}
    made["new"] = start(counts["new"], {}, "new", serial)
    made["new_owned"] = []
    for k in range(10):  # ten owners
        share = counts["new_owned"] // 10 + (k < counts["new_owned"] % 10)
        made["new_owned"] += start(share, {"Owner": f"se{k}@example.com"}, "owned", serial)
    made["tagged"] = []
    spread = list(range(2, 31))
    for k, days in enumerate(spread):
        share = counts["tagged"] // len(spread) + (k < counts["tagged"] % len(spread))
        tags = {
            "Discovered": iso(DAY0 + dt.timedelta(days - 14)),
            "Expiration": iso(DAY0 + dt.timedelta(days)),
        }
        if k % 2:
            tags["Owner"] = f"ae{k}@example.com"
        made["tagged"] += start(share, tags, "tagged", serial)
    made["unnamed"] = start(counts["unnamed"], {}, "unnamed", serial)
    expired = iso(DAY0 - dt.timedelta(5))
    made["awaiting"] = start(
        counts["awaiting"],
        {"Discovered": iso(DAY0 - dt.timedelta(19)), "Expiration": expired, "StoppedOn": expired,
         "ExpirationAtStop": expired},
        "awaiting", serial,
    )
    for at in range(0, len(made["awaiting"]), CHUNK):
        client.stop_instances(InstanceIds=made["awaiting"][at : at + CHUNK])
    made["expired_running"] = start(
        counts["expired_running"],
        {"Discovered": iso(DAY0 - dt.timedelta(20)), "Expiration": iso(DAY0 - dt.timedelta(6))},
        "expired", serial,
    )
    half = counts["protected"] // 2
    made["protected"] = start(half, {"PermanentReason": "Shared demo server"}, "permanent", serial)
    made["protected"] += start(counts["protected"] - half, {}, "permanent", serial)
    for instance_id in made["protected"]:
        client.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
    made["bad_tag"] = start(
        counts["bad_tag"],
        {"Discovered": iso(DAY0 - dt.timedelta(3)), "Expiration": "next tuesday"},
        "bad",
        serial,
    )
    return made


TYPES = ["t3.micro", "t3.small", "t3.medium", "m5.large"]


def expected(made: dict[str, list[str]], run: str) -> dict[str, int]:
    """The decisions the mix implies for each run."""
    size = {k: len(v) for k, v in made.items()}
    tagged = [int(len(made["tagged"]) // 29 + (k < len(made["tagged"]) % 29)) for k in range(29)]
    if run == "a":
        return {
            "tag": size["new"] + size["new_owned"],
            "stop": size["unnamed"] + size["expired_running"],
            "none": size["tagged"] + size["awaiting"] + size["protected"] + size["bad_tag"],
        }
    if run == "b":
        return {"none": sum(size.values())}
    expiring = sum(share for days, share in zip(range(2, 31), tagged, strict=True) if days <= 14)
    return {
        "stop": size["new"] + size["new_owned"] + expiring,
        "tag": size["unnamed"],  # stopped, now expired: the grace starts
        "snapshot_terminate": size["awaiting"] + size["expired_running"],
        "none": size["tagged"] - expiring + size["protected"] + size["bad_tag"],
    }


# --------------------------------------------------------------------------------------------
# The baseline: one call per instance and action
# --------------------------------------------------------------------------------------------


def naive(client, run, sample_size: int, rng: random.Random) -> tuple[float, int, int]:
    """The naive client's seconds and calls over a sample of the run's instances; and the sample's size."""
    from csops.sandbox.models import SandboxAction, SandboxInstance

    acted = {
        a.instance_id: a
        for a in SandboxAction.objects.filter(run=run).exclude(action="report").only(
            "instance_id", "action", "tags_before", "tags_after"
        )
    }
    everyone = sorted(set(SandboxInstance.objects.values_list("instance_id", flat=True)) | set(acted))
    sample = rng.sample(everyone, min(sample_size, len(everyone)))
    calls = Counter()

    def work(instance_id: str) -> None:
        client.describe_instances(InstanceIds=[instance_id])
        calls["describe"] += 1
        action = acted.get(instance_id)
        if action is None:
            return
        client.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
        calls["protection"] += 1
        new = {k: v for k, v in action.tags_after.items() if action.tags_before.get(k) != v}
        if new:
            client.create_tags(Resources=[instance_id], Tags=[{"Key": k, "Value": v} for k, v in new.items()])
            calls["tag"] += 1
        if action.action == "stop":
            client.stop_instances(InstanceIds=[instance_id])
            calls["stop"] += 1
        elif action.action in ("terminate", "snapshot_terminate"):
            client.terminate_instances(InstanceIds=[instance_id])
            calls["terminate"] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, sample))
    return time.perf_counter() - started, sum(calls.values()), len(sample)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def setup_django(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "csops.settings"
    os.environ["CSOPS_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()


def run(args: argparse.Namespace, work: Path) -> int:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        os.environ[name] = value
    setup_django(work / "data")
    import boto3
    from botocore.config import Config
    from django.conf import settings
    from django.core.management import call_command

    from csops.core.configuration import apply_configuration, default_directory
    from csops.sandbox.actions import run_cleanup
    from csops.sandbox.models import RunStatus, SandboxPolicy

    n, rng = args.instances, random.Random(7)
    random.seed(11)
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    apply_configuration(default_directory())
    SandboxPolicy.objects.filter(name="default").update(max_terminations=n)
    server = Moto(work)
    try:
        settings.CSOPS_SANDBOX_ENDPOINT_URL = server.url
        client = boto3.client(
            "ec2", region_name=REGION, endpoint_url=server.url,
            config=Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=THREADS * 2),
        )
        made = launch(client, n)
        say(f"setup (not timed): database migrated, configuration applied, {n:,} instances launched on "
            f"moto's server in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores")
        say("  " + ", ".join(f"{len(ids):,} {kind}" for kind, ids in made.items()))

        problems: list[str] = []
        results = []
        for label, days, what in (
            ("a", 0, "first run, every instance new"),
            ("b", 1, "steady state, the next day"),
            ("c", 14, "expiry day: stops, snapshots, terminations"),
        ):
            today = DAY0 + dt.timedelta(days)
            began = time.perf_counter()
            result = run_cleanup(today=today)
            seconds = time.perf_counter() - began
            per = result.api_calls / result.instances
            say(f"({label}) {today} {what}: {seconds:.2f} s, {result.api_calls:,} API calls for "
                f"{result.instances:,} instances = {per:.4f} calls/instance; "
                f"{dict(sorted(result.counts.items()))}")
            want = expected(made, label)
            if result.status != RunStatus.DONE or result.counts != want:
                problems.append(f"run ({label}): {result.status} {result.counts}, expected DONE {want}")
            base_s, base_calls, sampled = naive(client, result, args.sample, rng)
            scale = result.instances / sampled
            base_s, base_calls = base_s * scale, base_calls * scale
            say(f"    baseline, naive per-instance calls ({sampled:,} sampled, x{scale:.1f}): "
                f"{base_s:.2f} s, "
                f"{base_calls:,.0f} API calls = {base_calls / result.instances:.4f} calls/instance")
            results.append((label, what, seconds, result.api_calls, result.instances, base_s, base_calls))

        ending = made["awaiting"] + made["expired_running"]
        states = Counter()
        for at in range(0, len(ending), 1000):
            for reservation in client.describe_instances(InstanceIds=ending[at : at + 1000])["Reservations"]:
                states.update(i["State"]["Name"] for i in reservation["Instances"])
        if states != {"terminated": len(ending)}:
            problems.append(f"instances to terminate, by state after run (c): {dict(states)}")
    finally:
        server.stop()

    say("")
    say(f"sandbox cleanup over {n:,} EC2 instances on moto's server (SQLite application database):")
    for label, what, seconds, calls, instances, base_s, base_calls in results:
        say(f"  ({label}) {what}: {seconds:.2f} s, {calls / instances:.4f} API calls/instance ({calls:,}); "
            f"naive per-instance baseline {base_s:.2f} s, {base_calls / instances:.4f} calls/instance -> "
            f"ratio product/baseline {seconds / base_s:.2f}x the time, {calls / base_calls:.4f}x the calls")
    if problems:
        say("CORRECTNESS: FAILED")
        for problem in problems:
            say(f"  {problem}")
        return 1
    say("correctness: OK: every run DONE with the decisions the mix implies; "
        "the instances due were terminated")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=1_000, help="instances the baseline is measured on")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # child process: moto's server
    parser.add_argument("--amis", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.amis)
        return 0
    if args.instances < 200 or args.sample < 1:
        parser.error("give --instances 200 or more and --sample 1 or more")
    work = Path(tempfile.mkdtemp(prefix="csops-bench-sandbox-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
