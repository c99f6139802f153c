from csops.core.configuration import ConfigKind, own_fields, register
from csops.requests.models import TriagePolicy, Workstream

register(ConfigKind("workstreams", Workstream, fields=("lead", "description"), order=70))
register(ConfigKind("triage_policies", TriagePolicy, fields=own_fields(TriagePolicy), order=71))
