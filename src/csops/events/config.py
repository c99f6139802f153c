from csops.core.configuration import ConfigKind, register
from csops.events.models import EventPolicy

register(
    ConfigKind(
        "event_policies",
        EventPolicy,
        fields=tuple(
            f.name for f in EventPolicy._meta.get_fields() if f.concrete and f.name not in ("id", "name")
        ),
        order=56,
    )
)
