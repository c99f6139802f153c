from csops.core.configuration import ConfigKind, register
from csops.renewals.models import RenewalPolicy

register(
    ConfigKind(
        "renewal_policies",
        RenewalPolicy,
        fields=tuple(
            f.name for f in RenewalPolicy._meta.get_fields() if f.concrete and f.name not in ("id", "name")
        ),
        order=57,
    )
)
