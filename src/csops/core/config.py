from csops.core.configuration import ConfigKind, register
from csops.core.models import Schedule

register(ConfigKind("schedules", Schedule, fields=("description", "cron", "task", "enabled"), order=90))
