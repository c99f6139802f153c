from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from csops.cockpit.models import CtaReason, CtaStatus, CtaType
from csops.core.configuration import ConfigError, apply_configuration, default_directory
from csops.core.models import AuditEntry, ConfigChange, ConfigVersion
from csops.customers.models import Account, Segment


def copy_defaults(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    for path in default_directory().glob("*.yaml"):
        (target / path.name).write_text(path.read_text())
    return target


def edit(directory: Path, kind: str, change) -> None:
    path = directory / f"{kind}.yaml"
    items = yaml.safe_load(path.read_text())
    change(items)
    path.write_text(yaml.safe_dump(items))


def test_defaults_load_every_kind(config):
    assert set(Segment.objects.values_list("name", flat=True)) == {
        "Digital", "Scale", "Growth", "Strategic", "PubSec"}
    assert CtaType.objects.get(name="Risk").reasons.filter(name="At-Risk").exists()
    lifecycle_only = CtaStatus.objects.get(name="Closed: Not needed")
    assert list(lifecycle_only.types.values_list("name", flat=True)) == ["Lifecycle"]
    assert config.change.number == 1
    assert ConfigVersion.objects.filter(change=config.change).count() == len(config.diffs)


def test_apply_twice_is_a_no_op(config):
    again = apply_configuration(default_directory())
    assert again.diffs == [] and again.change is None
    assert ConfigChange.objects.count() == 1


def test_plan_shows_the_diff_and_writes_nothing(config, tmp_path):
    directory = copy_defaults(tmp_path)
    edit(directory, "segments", lambda items: items[1].update(arr_max=200000))
    plan = apply_configuration(directory, dry_run=True)
    assert [(d.kind, d.key, d.verb) for d in plan.diffs] == [("segments", "Scale", "update")]
    assert plan.diffs[0].changes == {"arr_max": (150000, 200000)}
    assert Segment.objects.get(name="Scale").arr_max == 150000
    assert ConfigChange.objects.count() == 1


def test_apply_versions_each_changed_object(config, tmp_path, users):
    directory = copy_defaults(tmp_path)
    edit(directory, "segments", lambda items: items[1].update(arr_max=200000))
    edit(directory, "cta_types", lambda items: items[0]["reasons"].append("Champion Left"))
    result = apply_configuration(directory, actor=users["admin"], message="raise Scale ceiling")
    assert result.change.number == 2 and result.change.actor == users["admin"]
    history = ConfigVersion.objects.filter(kind="segments", key="Scale").order_by("version")
    assert [v.data["arr_max"] for v in history] == [150000, 200000]
    assert CtaReason.objects.filter(type__name="Risk", name="Champion Left").exists()
    assert AuditEntry.objects.filter(source="config", object_repr="Scale", verb="update").exists()


def test_removing_an_object_deletes_it_and_keeps_its_history(config, tmp_path):
    directory = copy_defaults(tmp_path)
    edit(directory, "personas", lambda items: items.pop())
    result = apply_configuration(directory)
    assert [(d.key, d.verb) for d in result.diffs] == [("Other", "delete")]
    last = ConfigVersion.objects.filter(kind="personas", key="Other").order_by("-version").first()
    assert last.data is None and last.version == 2


def test_removing_a_segment_in_use_is_refused_and_nothing_changes(seeded, tmp_path):
    directory = copy_defaults(tmp_path)
    edit(directory, "segments", lambda items: items.pop(0))  # Digital, used by accounts
    edit(directory, "geos", lambda items: items.append({"name": "MEA"}))
    with pytest.raises(ConfigError, match=r"cannot remove 'Digital': still used by"):
        apply_configuration(directory)
    assert Segment.objects.filter(name="Digital").exists()
    assert not ConfigChange.objects.filter(number=2).exists()
    assert Account.objects.filter(segment__name="Digital").exists()


@pytest.mark.parametrize(("kind", "items", "message"), [
    ("segments", [{"name": "X", "arr_min": "lots", "csm_model": "named"}],
     "segments.yaml: item 1 ('X'): arr_min"),
    ("segments", [{"name": "X", "csm_model": "telepathy"}], "segments.yaml: item 1 ('X'): csm_model"),
    ("segments", [{"name": "X", "colour": "red", "csm_model": "named"}], "unknown field 'colour'"),
    ("geos", [{"name": "A"}, {"name": "A"}], "geos.yaml: item 2 ('A'): duplicate name"),
    ("geos", [{"description": "no name"}], "'name' is required"),
    ("cta_statuses", [{"name": "S", "types": ["Nope"]}], "unknown CTA type 'Nope'"),
    ("segments", {"name": "not a list"}, "expected a list of objects"),
])
def test_bad_files_name_the_file_item_and_field(config, tmp_path, kind, items, message):
    directory = tmp_path / "bad"
    directory.mkdir()
    (directory / f"{kind}.yaml").write_text(yaml.safe_dump(items))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_configuration(directory)


def test_unknown_file_and_bad_yaml(config, tmp_path):
    (tmp_path / "widgets.yaml").write_text("[]")
    with pytest.raises(ConfigError, match="unknown configuration kind 'widgets'"):
        apply_configuration(tmp_path)
    (tmp_path / "widgets.yaml").unlink()
    (tmp_path / "geos.yaml").write_text("- name: [unclosed")
    with pytest.raises(ConfigError, match=r"geos\.yaml: not valid YAML"):
        apply_configuration(tmp_path)


def test_cli_plan_and_apply(users, tmp_path, capsys):
    directory = copy_defaults(tmp_path)
    edit(directory, "geos", lambda items: items.append({"name": "MEA"}))
    call_command("config", "plan", str(directory))
    out = capsys.readouterr().out
    assert "+ MEA" in out and "Plan: 1 to add, 0 to change, 0 to delete." in out
    call_command("config", "apply", str(directory), "-m", "add MEA", "--as", "admin-user")
    assert "Applied change request !1 as configuration change #2" in capsys.readouterr().out
    call_command("config", "plan", str(directory))
    assert "No changes" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a directory"):
        call_command("config", "apply", str(tmp_path / "missing"), "-m", "why", "--as", "admin-user")
