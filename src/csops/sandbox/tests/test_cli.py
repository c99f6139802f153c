"""`csops sandbox clean` and `csops sandbox report` against moto's server."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from csops.sandbox.models import SandboxPolicy
from csops.sandbox.tests.conftest import described


def test_clean_dry_run_then_real_then_report(ec2, launch, config, capsys):
    [named] = launch(instance_type="t3.large", tags={"Owner": "jd@example.com"})
    [unnamed] = launch(name=None, instance_type="m5.large")
    call_command("sandbox", "clean", "--dry-run", "--today", "2026-12-01")
    out = capsys.readouterr().out
    assert "Plan for 2026-12-01 (2 instances in us-east-1):" in out
    assert f"{named}" in out and "first seen: expires on 2026-12-15" in out
    assert f"{unnamed}" in out and "no Name tag: stopped and tagged unnamed" in out
    assert "Dry run: nothing changed." in out and "Planned (dry run)" in out
    assert described(ec2, unnamed)["state"] == "running"
    call_command("sandbox", "clean", "--today", "2026-12-01")
    assert described(ec2, unnamed)["state"] == "stopped"
    call_command("sandbox", "report")
    report = capsys.readouterr().out
    assert "New (tagged this run): 1, ~$60.74/month" in report  # t3.large 0.0832 x 730
    assert "Unnamed: 1, ~$0.00/month" in report  # stopped: no compute
    assert "Estimated compute: $60.74/month" in report


def test_refusals_exit_non_zero_with_the_reason(ec2, launch, config):
    launch(
        2,
        tags={
            "Discovered": "2026-10-01",
            "Expiration": "2026-10-15",
            "StoppedOn": "2026-10-15",
            "ExpirationAtStop": "2026-10-15",
        },
    )
    SandboxPolicy.objects.filter(name="default").update(max_terminations=1)
    with pytest.raises(CommandError, match="2 terminations planned, more than the policy's maximum of 1"):
        call_command("sandbox", "clean", "--today", "2026-12-01")
    with pytest.raises(CommandError, match="no sandbox policy 'weekly'"):
        call_command("sandbox", "clean", "--policy", "weekly")
    with pytest.raises(CommandError, match="--as: no user 'nobody'"):
        call_command("sandbox", "clean", "--as", "nobody")
