from csops.core.configuration import ConfigKind, register
from csops.requests.models import TriagePolicy, Workstream

register(ConfigKind("workstreams", Workstream, fields=("lead", "description"), order=70))
register(
    ConfigKind(
        "triage_policies",
        TriagePolicy,
        fields=tuple(
            f.name for f in TriagePolicy._meta.get_fields() if f.concrete and f.name not in ("id", "name")
        ),
        order=71,
    )
)
