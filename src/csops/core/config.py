from csops.core.configuration import ConfigKind, register
from csops.core.models import CompanyHoliday, Schedule

register(ConfigKind("company_holidays", CompanyHoliday, fields=("description", "date"), order=5))
register(ConfigKind("schedules", Schedule, fields=("description", "cron", "task", "enabled"), order=90))
