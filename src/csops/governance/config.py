from csops.core.configuration import ConfigKind, register
from csops.governance.models import ReviewPolicy

register(ConfigKind("review_policies", ReviewPolicy, fields=("description", "review"), order=95))
