from csops.cockpit.models import CtaReason, CtaStatus, CtaType, Playbook
from csops.core.configuration import ChildNames, ConfigKind, register

register(
    ConfigKind(
        "cta_types",
        CtaType,
        fields=("description",),
        children={"reasons": ChildNames(CtaReason, parent_field="type")},
        order=30,
    )
)
register(ConfigKind("cta_statuses", CtaStatus, fields=("description", "is_closed", "types"), order=31))
register(ConfigKind("playbooks", Playbook, fields=("description", "tasks"), order=32))
