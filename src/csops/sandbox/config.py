from csops.core.configuration import ConfigKind, register
from csops.sandbox.models import SandboxPolicy

register(
    ConfigKind(
        "sandbox_policies",
        SandboxPolicy,
        fields=tuple(
            f.name for f in SandboxPolicy._meta.get_fields() if f.concrete and f.name not in ("id", "name")
        ),
        order=58,
    )
)
