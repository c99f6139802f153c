from csops.core.configuration import ConfigKind, register
from csops.customers.models import (
    CustomFieldDefinition,
    Geo,
    ImportMapping,
    Persona,
    RiskImpact,
    RiskReason,
    Segment,
)

register(ConfigKind("geos", Geo, fields=("description",), order=10))
register(ConfigKind(
    "segments", Segment, fields=("description", "arr_min", "arr_max", "csm_model"), order=11,
))
register(ConfigKind("personas", Persona, fields=("description",), order=12))
register(ConfigKind("risk_impacts", RiskImpact, fields=("description",), order=13))
register(ConfigKind("risk_reasons", RiskReason, fields=("description",), order=14))
register(ConfigKind(
    "custom_fields", CustomFieldDefinition,
    fields=("label", "description", "type", "choices", "required"), order=15,
))
register(ConfigKind("import_mappings", ImportMapping, fields=("description", "columns"), order=16))
