from csops.core.configuration import ConfigKind, register
from csops.health.models import Scorecard

register(
    ConfigKind("scorecards", Scorecard, fields=("description", "active", *Scorecard.DEFINITION), order=40)
)
