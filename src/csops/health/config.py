from csops.core.configuration import ConfigKind, register
from csops.health.models import Scorecard

register(
    ConfigKind(
        "scorecards",
        Scorecard,
        fields=(
            "description",
            "active",
            "bands",
            "color_scores",
            "na_rules",
            "overrides",
            "adoption",
            "groups",
        ),
        order=40,
    )
)
