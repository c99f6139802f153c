from csops.core.configuration import ConfigKind, register
from csops.engagements.models import EngagementPolicy

register(
    ConfigKind(
        "engagement_policies",
        EngagementPolicy,
        fields=tuple(
            f.name for f in EngagementPolicy._meta.get_fields() if f.concrete and f.name not in ("id", "name")
        ),
        order=55,
    )
)
