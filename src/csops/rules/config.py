from csops.core.configuration import ConfigKind, register
from csops.rules.models import Rule

register(ConfigKind("rules", Rule, fields=("description", *Rule.DEFINITION), order=60, recheck=True))
