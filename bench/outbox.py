"""Benchmark: the outbox queueing and delivering emails over SMTP, against plain smtplib sending the
same messages without a database, in the same run.

    .venv/bin/python bench/outbox.py [--messages N] [--postgres [URL]]     (default N=10,000)

Built first, not timed: a throw-away application database (SQLite in a temporary data directory,
or with --postgres a fresh PostgreSQL database on URL's server, default postgres://postgres@
127.0.0.1:5432, dropped at the end), migrated, with the default configuration applied; one Draft
per message for N distinct synthetic contacts (contact{i}@customer{i % 997}.example), with the
merge fields the program runner gives (contact, account, CSM, CSE, sender, organisation) and a
Calendly link, on the default template "CI product coach" (it has a merge-field link and a link of
its own, so both kinds of tracking run). Two aiosmtpd servers run in child processes on loopback,
each writing every message's Message-ID and envelope recipients to a file before it answers 250.

Timed:
1. rendering: `outbox.compose` of every draft (merge fields, tracked links, unsubscribe link, open
   pixel), nothing written;
2. queueing: `outbox.queue` of all drafts in batches of 2,000 (the runner's batch; rendering
   again, then the inserts), and once more with the same keys (must queue none);
3. baseline: the same N messages, prebuilt as the outbox builds them (MIME bytes with their
   Message-IDs, from the queued rows; not timed), sent with smtplib's `sendmail` over one
   connection to the first server: no database;
4. the product: `outbox.deliver()` (claims each message in its own transaction, sends it, records
   the outcome) to the second server.
Then checked, each failure making the exit status non-zero: each server received N messages with N
distinct Message-IDs; the product's server received each queued message exactly once, to its own
address, under the Message-ID recorded on its row (none lost, none twice), and every row is sent.
The target is 200 messages/s delivered; a missed target prints MISSED.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from email.utils import make_msgid
from pathlib import Path

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
TARGET_RATE = 200.0
BATCH = 2000
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
CALENDLY = "https://calendly.com/example-cse-amer/30min"

warnings.filterwarnings("ignore", category=DeprecationWarning)


def say(line: str) -> None:
    print(line, flush=True)


# --------------------------------------------------------------------------------------------
# The SMTP server (child process)
# --------------------------------------------------------------------------------------------


def serve(port: int, out: Path) -> None:
    """Record each message (Message-ID, recipients) before answering; stop when stdin closes."""
    from aiosmtpd.controller import Controller

    class Record:
        def __init__(self) -> None:
            self.file = out.open("a", encoding="ascii")

        async def handle_DATA(self, server, session, envelope):
            found = MESSAGE_ID.search(envelope.content)
            self.file.write(f"{found.group(1).decode() if found else '-'}\t{','.join(envelope.rcpt_tos)}\n")
            self.file.flush()
            return "250 OK"

    controller = Controller(Record(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


class Server:
    def __init__(self, work: Path, name: str):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.out = work / f"{name}.tsv"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port), "--out", str(self.out)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the SMTP server ({name}) did not start")

    def received(self) -> list[tuple[str, str]]:
        lines = self.out.read_text(encoding="ascii").splitlines() if self.out.exists() else []
        return [tuple(line.split("\t", 1)) for line in lines]

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def setup_django(data_dir: Path, database_url: str | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "csops.settings"
    os.environ["CSOPS_DATA_DIR"] = str(data_dir)
    os.environ["CSOPS_INCREMENTAL_RULES"] = "0"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()


def drafts(n: int) -> list:
    from csops.programs.models import EmailTemplate
    from csops.programs.outbox import Draft

    template = EmailTemplate.objects.get(name="CI product coach")
    cse = {"name": "Casey Engineer", "email": "casey@ours.example"}
    made = []
    for i in range(n):
        context = {
            "contact": {"first_name": f"Ada{i}", "last_name": "Lovelace", "name": f"Ada{i} Lovelace",
                        "email": f"contact{i}@customer{i % 997}.example", "title": "GitLab Admin"},
            "account": {"name": f"Customer {i % 997}"},
            "csm": {"name": "", "email": ""},
            "cse": cse,
            "sender": cse,
            "organisation": {"name": "Example Corp"},
        }
        made.append(Draft(key=f"bench:{i}", kind="program", to=context["contact"]["email"], template=template,
                          context=context, links={"calendly": CALENDLY}, reply_to=cse["email"]))
    return made


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def run(args: argparse.Namespace, work: Path, database_url: str | None) -> int:
    setup_django(work / "data", database_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from csops.core.configuration import apply_configuration, default_directory
    from csops.programs import outbox
    from csops.programs.models import MessageStatus, OutboxMessage

    n = args.messages
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    apply_configuration(default_directory())
    batch = drafts(n)
    say(f"setup (not timed): {connection.vendor} database migrated, configuration applied, {n:,} drafts "
        f"in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores")

    rendered, render_s = timed(lambda: [outbox.compose(d) for d in batch])
    assert len(rendered) == n
    del rendered
    say(f"1. rendering {n:,} messages (merge fields, tracked links, unsubscribe, pixel): {render_s:.2f} s "
        f"({n / render_s:,.0f}/s)")

    def queue_all() -> int:
        return sum(len(outbox.queue(batch[i : i + BATCH])) for i in range(0, n, BATCH))

    queued, queue_s = timed(queue_all)
    again, again_s = timed(queue_all)
    say(f"2. queueing {queued:,} messages: {queue_s:.2f} s ({queued / queue_s:,.0f}/s; rendering included); "
        f"the same keys again: {again:,} queued in {again_s:.2f} s")

    problems: list[str] = []
    if queued != n or again != 0:
        problems.append(f"queued {queued:,} then {again:,} messages for {n:,} keys")

    rows = list(OutboxMessage.objects.order_by("pk"))
    prebuilt = []
    for message in rows:
        message.message_id = make_msgid(domain="baseline.local")
        prebuilt.append(outbox._mime(message))
    first, second = Server(work, "baseline"), Server(work, "outbox")
    try:
        def baseline() -> None:
            with smtplib.SMTP("127.0.0.1", first.port, timeout=30) as smtp:
                for recipients, data in prebuilt:
                    smtp.sendmail(settings.DEFAULT_FROM_EMAIL, recipients, data)

        _, baseline_s = timed(baseline)
        say(f"3. baseline, smtplib over one connection, no database: {n:,} in {baseline_s:.2f} s "
            f"({n / baseline_s:,.0f}/s)")

        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", second.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        report, deliver_s = timed(outbox.deliver)
        rate = report.sent / deliver_s if deliver_s else 0.0
        say(f"4. outbox.deliver(): {report} -> {rate:,.0f} messages/s")
    finally:
        first.stop()
        second.stop()

    # What the servers received.
    base = first.received()
    if len(base) != n or len({mid for mid, _ in base}) != n:
        problems.append(f"the baseline server received {len(base):,} messages, "
                        f"{len({mid for mid, _ in base}):,} distinct, for {n:,}")
    got = second.received()
    counts = Counter(mid for mid, _ in got)
    twice = {mid for mid, k in counts.items() if k > 1}
    expected = dict(OutboxMessage.objects.values_list("message_id", "to"))
    lost = set(expected) - set(counts)
    strangers = set(counts) - set(expected)
    wrong = sum(1 for mid, to in got if expected.get(mid) not in (None, to))
    statuses = dict(Counter(OutboxMessage.objects.values_list("status", flat=True)))
    if twice:
        problems.append(f"{len(twice):,} messages arrived more than once, e.g. {sorted(twice)[:3]}")
    if lost or "" in expected:
        problems.append(f"{len(lost):,} queued messages never arrived")
    if strangers:
        problems.append(f"{len(strangers):,} messages arrived that no row records: {sorted(strangers)[:3]}")
    if wrong:
        problems.append(f"{wrong:,} messages arrived for another address than their row's")
    if statuses != {MessageStatus.SENT: n} or report.sent != n:
        problems.append(f"rows by status after delivery: {statuses}; report: {report}")

    say("")
    mark = "MET" if rate >= TARGET_RATE else "MISSED"
    say(f"outbox: {n:,} messages delivered by outbox.deliver() in {deliver_s:.2f} s = {rate:,.0f} messages/s "
        f"(target >= {TARGET_RATE:.0f}/s: {mark}) on {connection.vendor}")
    say(f"  baseline smtplib, one connection, no database: {baseline_s:.2f} s = {n / baseline_s:,.0f} "
        f"messages/s -> ratio outbox/baseline {deliver_s / baseline_s:.2f}x the time "
        f"({rate / (n / baseline_s):.2f}x the rate)")
    say(f"  queueing {n:,} (rendering included) {queue_s:.2f} s = {n / queue_s:,.0f}/s, of which rendering "
        f"alone {render_s:.2f} s; queueing them again (idempotent, none new) {again_s:.2f} s")
    if problems:
        say("CORRECTNESS: FAILED")
        for problem in problems:
            say(f"  {problem}")
        return 1
    say(f"correctness: OK: every one of the {n:,} messages arrived exactly once, to its own address, under "
        f"the Message-ID on its row; none lost, none twice; the baseline server got all {n:,} too")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgres", nargs="?", const=PG_SERVER, default=None, metavar="URL",
                        help=f"run on a fresh PostgreSQL database on this server (default {PG_SERVER})")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # child process: the SMTP server
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.out)
        return 0
    if args.messages < 1:
        parser.error("--messages: give 1 or more")
    work = Path(tempfile.mkdtemp(prefix="csops-bench-outbox-"))
    try:
        if not args.postgres:
            return run(args, work, None)
        import psycopg

        server_url = args.postgres.rstrip("/")
        database = f"csops_bench_outbox_{os.getpid()}"
        try:
            admin = psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            say(f"PostgreSQL not reachable at {server_url}: {str(exc).strip()}")
            return 1
        with admin:
            admin.execute(f'CREATE DATABASE "{database}"')
            try:
                return run(args, work, f"{server_url}/{database}")
            finally:
                from django.db import connections

                connections.close_all()
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
