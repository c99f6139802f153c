from csops.core.configuration import ConfigKind, own_fields, register
from csops.events.models import EventPolicy

register(ConfigKind("event_policies", EventPolicy, fields=own_fields(EventPolicy), order=56))
