from django.contrib import admin

from csops.core.admin import RoleAdmin
from csops.customers.models import (
    CustomFieldDefinition,
    Geo,
    ImportMapping,
    Persona,
    RiskImpact,
    RiskReason,
    Segment,
)


@admin.register(Segment)
class SegmentAdmin(RoleAdmin):
    list_display = ("name", "arr_min", "arr_max", "csm_model", "position")


@admin.register(CustomFieldDefinition)
class CustomFieldAdmin(RoleAdmin):
    list_display = ("name", "label", "type", "required")


for model in (Geo, Persona, RiskImpact, RiskReason, ImportMapping):
    admin.site.register(model, RoleAdmin)
