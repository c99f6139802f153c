"""CS Ops process efficiency: how many steps and clicks the common actions take in the UI.

The figures are in `efficiency.yaml`; `tests/test_efficiency_browser.py` performs each action in
Chromium, counts them and fails when the UI and the file disagree, so the report shows only what
the UI takes today."""

from __future__ import annotations

from pathlib import Path

import yaml

SOURCE = Path(__file__).with_name("efficiency.yaml")
KEYS = ("action", "role", "start", "steps", "clicks", "fields", "test")


def measured() -> list[dict]:
    """One row per common action: action, role, start (page), steps, clicks, fields, test."""
    entries = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))["actions"]
    return [{key: entry[key] for key in KEYS} for entry in entries]
