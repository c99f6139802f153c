from csops.core.configuration import ConfigKind, own_fields, register
from csops.sandbox.models import SandboxPolicy

register(ConfigKind("sandbox_policies", SandboxPolicy, fields=own_fields(SandboxPolicy), order=58))
