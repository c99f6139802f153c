from csops.core.configuration import ConfigKind, register
from csops.timeline.models import ActivityType

register(ConfigKind("activity_types", ActivityType, fields=("description", "counts_as_meeting"), order=20))
