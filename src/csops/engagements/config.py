from csops.core.configuration import ConfigKind, own_fields, register
from csops.engagements.models import EngagementPolicy

register(ConfigKind("engagement_policies", EngagementPolicy, fields=own_fields(EngagementPolicy), order=55))
