from csops.core.configuration import ConfigKind, own_fields, register
from csops.renewals.models import RenewalPolicy

register(ConfigKind("renewal_policies", RenewalPolicy, fields=own_fields(RenewalPolicy), order=57))
