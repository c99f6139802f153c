from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from csops.core import audit
from csops.core.configuration import kind_for_model
from csops.core.models import ApiToken, AuditEntry, ConfigChange, User
from csops.core.permissions import has_perm


def _is_admin(request) -> bool:
    return has_perm(request.user, "manage_config")


admin.site.has_permission = _is_admin
admin.site.site_header = "csops administration"


class RoleAdmin(admin.ModelAdmin):
    """Open to CS Ops admins; every save goes through the audit trail. Configuration objects are
    read-only here: they change through reviewed change requests (/governance/)."""

    def has_module_permission(self, request):
        return _is_admin(request)

    def has_view_permission(self, request, obj=None):
        return _is_admin(request)

    def has_add_permission(self, request, obj=None):
        return _is_admin(request) and kind_for_model(self.model) is None

    has_change_permission = has_delete_permission = has_add_permission

    def save_model(self, request, obj, form, change):
        old = audit.snapshot(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        audit.record(actor=request.user, verb="update" if change else "create", obj=obj,
                     changes=audit.diff(old, audit.snapshot(obj)), source="admin")

    def delete_model(self, request, obj):
        snapshot, pk = audit.snapshot(obj), obj.pk
        super().delete_model(request, obj)
        obj.pk = pk
        audit.record(actor=request.user, verb="delete", obj=obj, changes=audit.diff(snapshot, {}),
                     source="admin")


@admin.register(User)
class CsopsUserAdmin(RoleAdmin, UserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "function", "geo", "is_pool", "is_active")
    list_filter = ("role", "function", "geo", "is_pool", "is_active")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("csops", {"fields": ("role", "function", "geo", "is_pool", "pool", "manager")}),
    )


@admin.register(AuditEntry)
class AuditEntryAdmin(RoleAdmin):
    list_display = ("at", "actor", "verb", "content_type", "object_repr", "source")
    list_filter = ("verb", "source", "content_type")
    has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: False
    )


@admin.register(ConfigChange)
class ConfigChangeAdmin(RoleAdmin):
    list_display = ("number", "at", "actor", "message")
    has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: False
    )


@admin.register(ApiToken)
class ApiTokenAdmin(RoleAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest", "user", "created_at", "last_used_at")
    has_add_permission = lambda self, request: False  # noqa: E731  (tokens come from the CLI)
