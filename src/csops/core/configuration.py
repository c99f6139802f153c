"""Configuration as code: YAML files in a directory are the desired state of the configuration.

Each app registers its configuration kinds (one YAML file each, a list of objects keyed by
name). `apply_configuration` brings the database to the files' state as one versioned change;
a plan is the same apply rolled back, so what a plan shows is exactly what an apply does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import ProtectedError

from csops.core import audit
from csops.core.models import ConfigChange, ConfigVersion, User


class ConfigError(Exception):
    """A configuration file or object is invalid; the message names the file and object."""


@dataclass(frozen=True)
class ChildNames:
    """A list of child rows kept as their names, in order (e.g. a CTA type's reasons)."""

    model: type[models.Model]
    parent_field: str
    name_field: str = "name"


@dataclass(frozen=True)
class ConfigKind:
    name: str
    model: type[models.Model]
    fields: tuple[str, ...] = ()
    children: dict[str, ChildNames] = field(default_factory=dict)
    order: int = 100
    key: str = "name"
    # Objects that name others in their definition (a rule names its playbook): checked again
    # whenever an object is removed, since no foreign key protects those names.
    recheck: bool = False


REGISTRY: dict[str, ConfigKind] = {}


def own_fields(model: type[models.Model]) -> tuple[str, ...]:
    """Every concrete field but the id and the name (the key): for a kind whose whole row is
    configuration, such as a policy."""
    return tuple(f.name for f in model._meta.get_fields() if f.concrete and f.name not in ("id", "name"))


def register(kind: ConfigKind) -> None:
    REGISTRY[kind.name] = kind


def kind_for_model(model: type[models.Model]) -> ConfigKind | None:
    return next((k for k in REGISTRY.values() if k.model is model), None)


@dataclass
class ObjectDiff:
    kind: str
    key: str
    verb: str  # create, update, delete
    changes: dict[str, tuple[Any, Any]]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass
class ConfigResult:
    diffs: list[ObjectDiff]
    change: ConfigChange | None

    def summary(self) -> str:
        counts = {verb: sum(d.verb == verb for d in self.diffs) for verb in ("create", "update", "delete")}
        return f"{counts['create']} to add, {counts['update']} to change, {counts['delete']} to delete."


def plain(value: Any) -> Any:
    """A value as YAML and JSON write it, so that file and database compare equal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value)
    return value


def dump_object(kind: ConfigKind, obj: models.Model) -> dict[str, Any]:
    data: dict[str, Any] = {kind.key: getattr(obj, kind.key)}
    for name in kind.fields:
        model_field = kind.model._meta.get_field(name)
        if model_field.many_to_many:
            data[name] = sorted(str(o) for o in getattr(obj, name).all()) if obj.pk else []
        elif model_field.many_to_one:
            related = getattr(obj, name)
            data[name] = getattr(related, _natural_key(model_field)) if related is not None else None
        else:
            data[name] = plain(getattr(obj, name))
    for name, child in kind.children.items():
        rows = child.model.objects.filter(**{child.parent_field: obj}) if obj.pk else []
        data[name] = [getattr(r, child.name_field) for r in rows]
    if hasattr(obj, "position"):
        data["position"] = obj.position
    return data


def _natural_key(model_field) -> str:
    """How a configuration file names a related object: its name, or a person's username."""
    related = model_field.related_model
    return "name" if any(f.name == "name" for f in related._meta.fields) else related.USERNAME_FIELD


def read_directory(directory: Path) -> dict[str, list[dict[str, Any]]]:
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    documents = {}
    for path in sorted(directory.glob("*.y*ml")):
        if path.stem not in REGISTRY:
            known = ", ".join(sorted(REGISTRY))
            raise ConfigError(f"{path.name}: unknown configuration kind '{path.stem}' (known: {known})")
        try:
            items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path.name}: not valid YAML: {exc}") from exc
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ConfigError(f"{path.name}: expected a list of objects")
        documents[path.stem] = items
    if not documents:
        raise ConfigError(f"{directory}: no configuration files (*.yaml) found")
    return documents


def _where(kind: ConfigKind, index: int, key: Any) -> str:
    return f"{kind.name}.yaml: item {index + 1} ({key!r})"


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
    return " ".join(exc.messages)


class _Applier:
    def __init__(self, actor: User | None, message: str, source: str):
        self.actor, self.message, self.source = actor, message, source
        self.change: ConfigChange | None = None
        self.diffs: list[ObjectDiff] = []
        self.removed = False

    def recheck(self) -> None:
        if not self.removed:
            return
        for kind in REGISTRY.values():
            for obj in kind.model.objects.all() if kind.recheck else ():
                try:
                    obj.full_clean()
                except ValidationError as exc:
                    raise ConfigError(
                        f"{kind.name} {getattr(obj, kind.key)!r} would break: {_validation_message(exc)}"
                    ) from exc

    def record(
        self, kind: ConfigKind, key: str, before: dict | None, after: dict | None, obj: models.Model
    ) -> None:
        if before == after:
            return
        if self.change is None:
            last = ConfigChange.objects.order_by("-number").values_list("number", flat=True).first()
            self.change = ConfigChange.objects.create(
                number=(last or 0) + 1,
                actor=self.actor,
                message=self.message,
                source=self.source,
            )
        last_version = (
            ConfigVersion.objects.filter(kind=kind.name, key=key)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        ConfigVersion.objects.create(
            change=self.change,
            kind=kind.name,
            key=key,
            version=(last_version or 0) + 1,
            data=after,
        )
        verb = "create" if before is None else "delete" if after is None else "update"
        changes = audit.diff(before or {}, after or {})
        self.diffs.append(ObjectDiff(kind.name, key, verb, changes, before, after))
        audit.record(actor=self.actor, verb=verb, obj=obj, changes=changes, source="config")

    def apply_kind(self, kind: ConfigKind, items: list[dict[str, Any]]) -> None:
        existing = {getattr(o, kind.key): o for o in kind.model.objects.all()}
        seen: set[str] = set()
        for index, item in enumerate(items):
            key = item.get(kind.key)
            if not key or not isinstance(key, str):
                raise ConfigError(f"{_where(kind, index, key)}: '{kind.key}' is required")
            if key in seen:
                raise ConfigError(f"{_where(kind, index, key)}: duplicate {kind.key}")
            seen.add(key)
            self.put(kind, existing.pop(key, None), item, _where(kind, index, key), position=index)
        for obj in existing.values():
            self.remove(kind, obj, f"{kind.name}.yaml")

    def apply_object(self, kind: ConfigKind, proposed: ObjectDiff) -> None:
        """Bring one object from `proposed.before` to `proposed.after`, refusing if it is no
        longer in the state the change was made against."""
        where = f"{kind.name} {proposed.key!r}"
        obj = kind.model.objects.filter(**{kind.key: proposed.key}).first()
        if (dump_object(kind, obj) if obj else None) != proposed.before:
            raise ConfigError(f"{where}: changed since this change was proposed; propose it again")
        if proposed.after is None:
            self.remove(kind, obj, where)
            return
        item = {k: v for k, v in proposed.after.items() if k != "position"}
        if not isinstance(item.get(kind.key), str) or item[kind.key] != proposed.key:
            raise ConfigError(f"{where}: '{kind.key}' must be {proposed.key!r}")
        position = proposed.after.get("position", getattr(obj, "position", kind.model.objects.count()))
        self.put(kind, obj, item, where, position=position)

    def put(self, kind: ConfigKind, obj: models.Model | None, item: dict, where: str, position: int) -> None:
        allowed = {kind.key, *kind.fields, *kind.children}
        unknown = set(item) - allowed
        if unknown:
            raise ConfigError(
                f"{where}: unknown field '{sorted(unknown)[0]}' (allowed: {', '.join(sorted(allowed))})"
            )
        key = item[kind.key]
        before = dump_object(kind, obj) if obj else None
        obj = obj or kind.model(**{kind.key: key})
        self.assign(kind, obj, item, where, position=position)
        self.record(kind, key, before, dump_object(kind, obj), obj)

    def remove(self, kind: ConfigKind, obj: models.Model, where: str) -> None:
        key, before, pk = getattr(obj, kind.key), dump_object(kind, obj), obj.pk
        try:
            obj.delete()
        except ProtectedError as exc:
            users = len(exc.protected_objects)
            raise ConfigError(
                f"{where}: cannot remove {key!r}: still used by {users} "
                f"{next(iter(exc.protected_objects))._meta.verbose_name_plural}"
            ) from exc
        obj.pk = pk
        self.removed = True
        self.record(kind, key, before, None, obj)

    def assign(self, kind: ConfigKind, obj: models.Model, item: dict, where: str, position: int) -> None:
        many: dict[str, list] = {}
        for name in kind.fields:
            model_field = kind.model._meta.get_field(name)
            value = item.get(name)
            if model_field.many_to_many:
                many[name] = self.resolve_names(model_field, value or [], where, name)
                continue
            if model_field.many_to_one:
                setattr(obj, model_field.attname, self.resolve_one(model_field, value, where, name))
                continue
            if value is None:
                value = model_field.get_default()
            try:
                setattr(obj, model_field.attname, model_field.to_python(value))
            except ValidationError as exc:
                raise ConfigError(f"{where}: {name}: {' '.join(exc.messages)}") from exc
        if hasattr(obj, "position"):
            obj.position = position
        try:
            obj.full_clean()
        except ValidationError as exc:
            raise ConfigError(f"{where}: {_validation_message(exc)}") from exc
        obj.save()
        for name, related in many.items():
            getattr(obj, name).set(related)
        for name, child in kind.children.items():
            self.assign_children(obj, child, item.get(name) or [], where, name)

    @staticmethod
    def resolve_one(model_field, value, where: str, name: str) -> int | None:
        if value in (None, ""):
            return None
        key = _natural_key(model_field)
        found = model_field.related_model.objects.filter(**{key: value}).values_list("pk", flat=True).first()
        if found is None:
            what = model_field.related_model._meta.verbose_name
            raise ConfigError(f"{where}: {name}: unknown {what} {value!r}")
        return found

    @staticmethod
    def resolve_names(model_field, names: list, where: str, name: str) -> list:
        related = model_field.related_model
        found = {o.name: o for o in related.objects.filter(name__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise ConfigError(f"{where}: {name}: unknown {related._meta.verbose_name} {missing[0]!r}")
        return [found[n] for n in names]

    @staticmethod
    def assign_children(
        parent: models.Model, child: ChildNames, names: list, where: str, field_name: str
    ) -> None:
        if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            raise ConfigError(f"{where}: {field_name}: expected a list of distinct names")
        rows = child.model.objects.filter(**{child.parent_field: parent})
        current = {getattr(r, child.name_field): r for r in rows}
        for position, name in enumerate(names):
            row = current.pop(name, None) or child.model(
                **{child.parent_field: parent, child.name_field: name}
            )
            if row.pk is None or row.position != position:
                row.position = position
                row.save()
        for row in current.values():
            try:
                row.delete()
            except ProtectedError as exc:
                raise ConfigError(f"{where}: {field_name}: cannot remove {str(row)!r}: still in use") from exc


class _Rollback(Exception):
    pass


CONFIG_LOCK = 7_230_311  # any number of our own; the analytics store uses another


def _take_turns() -> None:
    """Configuration changes take turns: each compares objects to what it expects and numbers the
    change and versions after the last ones. SQLite serialises writers by itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CONFIG_LOCK])


def apply_configuration(
    directory: Path, *, actor: User | None = None, message: str = "", dry_run: bool = False
) -> ConfigResult:
    """Bring the configuration to the state of the YAML files in `directory`, as one change."""
    documents = read_directory(directory)
    applier = _Applier(actor, message or f"Applied {directory.name}", str(directory))
    try:
        with transaction.atomic():
            _take_turns()
            for kind in sorted((REGISTRY[n] for n in documents), key=lambda k: k.order):
                applier.apply_kind(kind, documents[kind.name])
            applier.recheck()
            if dry_run:
                raise _Rollback
    except _Rollback:
        applier.change = None
    return ConfigResult(applier.diffs, applier.change)


def apply_objects(
    proposed: list[ObjectDiff], *, actor: User | None, message: str, source: str, dry_run: bool = False
) -> ConfigResult:
    """Apply changes to single objects (a change request) as one version, all or nothing.

    Additions and changes go in dependency order, removals in reverse, so a new segment can
    name a new geo and a removed geo goes after the segments that used it."""
    applier = _Applier(actor, message, source)
    for diff in proposed:
        if diff.kind not in REGISTRY:
            raise ConfigError(f"unknown configuration kind {diff.kind!r}")

    def order(diff: ObjectDiff) -> tuple[bool, int]:
        removal = diff.after is None
        return removal, -REGISTRY[diff.kind].order if removal else REGISTRY[diff.kind].order

    try:
        with transaction.atomic():
            _take_turns()
            for diff in sorted(proposed, key=order):
                applier.apply_object(REGISTRY[diff.kind], diff)
            applier.recheck()
            if dry_run:
                raise _Rollback
    except _Rollback:
        applier.change = None
    return ConfigResult(applier.diffs, applier.change)


def default_directory() -> Path:
    return Path(__file__).resolve().parent.parent / "defaults"
