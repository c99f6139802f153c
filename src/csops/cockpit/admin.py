from django.contrib import admin

from csops.cockpit.models import CtaReason, CtaStatus, CtaType
from csops.core.admin import RoleAdmin


class CtaReasonInline(admin.TabularInline):
    model = CtaReason
    extra = 1


@admin.register(CtaType)
class CtaTypeAdmin(RoleAdmin):
    inlines = [CtaReasonInline]


@admin.register(CtaStatus)
class CtaStatusAdmin(RoleAdmin):
    list_display = ("name", "is_closed")
