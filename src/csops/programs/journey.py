"""Program steps: checked at configuration time, walked set-wise by the program runner.

A program is a list of steps, each one of:

    - send: <email template>               # queue the email to the enrolled contact
    - wait: {days: 7}                      # or {until_contract_day: 21}, {days_before_renewal: 120}
    - branch: {clicked: calendly, then: <label>, else: <label>}   # a link in this enrolment's emails
    - create_cta: {type: …, reason: …, priority: …, owner: csm}
    - survey: <survey>                     # with template: <email template> (default by survey kind)
    - exit: <reason>

Any step may carry `label: <name>` for branches to go to; after the last step the enrolment is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csops.rules.definition import PRIORITIES, TEAM_ROLES

WAITS = ("days", "until_contract_day", "days_before_renewal")
SURVEY_TEMPLATES = {"nps": "NPS survey invitation", "csat": "CSAT survey invitation"}


class JourneyError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    kind: str
    value: Any
    label: str | None = None


def _where(program: str, index: int) -> str:
    return f"program {program!r}: step {index + 1}"


def build_steps(data: Any, program: str) -> list[Step]:
    """Check a program's steps and return them; errors name the program, the step and the field."""
    if not isinstance(data, list):
        raise JourneyError(f"program {program!r}: steps: expected a list")
    steps: list[Step] = []
    for index, item in enumerate(data):
        where = _where(program, index)
        if not isinstance(item, dict):
            raise JourneyError(f"{where}: expected a mapping")
        label = item.get("label")
        kinds = [k for k in item if k != "label"]
        if len(kinds) != 1 or kinds[0] not in CHECKS:
            raise JourneyError(f"{where}: a step is one of {', '.join(CHECKS)} (with an optional label)")
        kind = kinds[0]
        steps.append(Step(kind, CHECKS[kind](item[kind], f"{where} ({kind})"), label))
    labels = [s.label for s in steps if s.label]
    if len(labels) != len(set(labels)):
        raise JourneyError(f"program {program!r}: labels must be unique")
    for index, step in enumerate(steps):
        if step.kind == "branch":
            for target in (step.value["then"], step.value["else"]):
                if target not in labels and target not in ("next", "exit"):
                    raise JourneyError(f"{_where(program, index)} (branch): no step is labelled {target!r}")
    _check_references(steps, program)
    return steps


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JourneyError(f"{where}: give a name")
    return value


def _wait(value: Any, where: str) -> dict:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in WAITS:
        raise JourneyError(f"{where}: give one of {', '.join(WAITS)} with a number")
    amount = next(iter(value.values()))
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= 3650:
        raise JourneyError(f"{where}: give a whole number of days from 0 to 3650")
    return value


def _branch(value: Any, where: str) -> dict:
    if not isinstance(value, dict) or set(value) - {"clicked", "then", "else"} or "clicked" not in value:
        raise JourneyError(f"{where}: give clicked (a link name), then and else (labels, next or exit)")
    return {
        "clicked": _name(value["clicked"], where),
        "then": value.get("then", "next"),
        "else": value.get("else", "next"),
    }


def _create_cta(value: Any, where: str) -> dict:
    if not isinstance(value, dict) or not value.get("type") or not value.get("reason"):
        raise JourneyError(f"{where}: give type and reason")
    unknown = set(value) - {"type", "reason", "priority", "owner", "playbook", "due_in_days"}
    if unknown:
        raise JourneyError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    if value.get("priority", "medium") not in PRIORITIES:
        raise JourneyError(f"{where}: priority must be one of {', '.join(PRIORITIES)}")
    if value.get("owner", "csm") not in TEAM_ROLES:
        raise JourneyError(f"{where}: owner must be one of {', '.join(TEAM_ROLES)}")
    return value


def _survey(value: Any, where: str) -> dict:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not value.get("name") or set(value) - {"name", "template"}:
        raise JourneyError(f"{where}: give the survey's name (and optionally template)")
    return value


def _exit(value: Any, where: str) -> str:
    return str(value or "exit")


CHECKS = {
    "send": _name,
    "wait": _wait,
    "branch": _branch,
    "create_cta": _create_cta,
    "survey": _survey,
    "exit": _exit,
}


def _check_references(steps: list[Step], program: str) -> None:
    from csops.cockpit.models import CtaReason, Playbook
    from csops.programs.models import EmailTemplate, Survey

    templates = set(EmailTemplate.objects.values_list("name", flat=True))
    surveys = dict(Survey.objects.values_list("name", "kind"))
    for index, step in enumerate(steps):
        where = f"{_where(program, index)} ({step.kind})"
        if step.kind == "send" and step.value not in templates:
            raise JourneyError(f"{where}: unknown email template {step.value!r}")
        if step.kind == "survey":
            if step.value["name"] not in surveys:
                raise JourneyError(f"{where}: unknown survey {step.value['name']!r}")
            template = step.value.get("template") or SURVEY_TEMPLATES[surveys[step.value["name"]]]
            if template not in templates:
                raise JourneyError(f"{where}: unknown email template {template!r}")
        if step.kind == "create_cta":
            value = step.value
            if not CtaReason.objects.filter(type__name=value["type"], name=value["reason"]).exists():
                raise JourneyError(f"{where}: {value['reason']!r} is not a reason of {value['type']!r}")
            if value.get("playbook") and not Playbook.objects.filter(name=value["playbook"]).exists():
                raise JourneyError(f"{where}: unknown playbook {value['playbook']!r}")
