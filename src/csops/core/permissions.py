"""Who may do what. One table, enforced by views and the API alike."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from csops.core.models import Role, User

ADMIN, CSM, OWNER, VIEWER = Role.ADMIN, Role.CSM, Role.ACCOUNT_OWNER, Role.VIEWER
EVERYONE = frozenset(Role)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "view_customers": EVERYONE,
    "export_customers": EVERYONE,
    "add_account": frozenset({ADMIN}),
    "change_account": frozenset({ADMIN, CSM}),
    "delete_account": frozenset({ADMIN}),
    "add_contact": frozenset({ADMIN, CSM, OWNER}),
    "change_contact": frozenset({ADMIN, CSM, OWNER}),
    "delete_contact": frozenset({ADMIN, CSM}),
    "add_opportunity": frozenset({ADMIN, OWNER}),
    "change_opportunity": frozenset({ADMIN, OWNER}),
    "delete_opportunity": frozenset({ADMIN}),
    "add_ticket": frozenset({ADMIN, CSM}),
    "change_ticket": frozenset({ADMIN, CSM}),
    "delete_ticket": frozenset({ADMIN}),
    "log_activity": frozenset({ADMIN, CSM, OWNER}),
    "manage_success_plans": frozenset({ADMIN, CSM}),
    "work_ctas": frozenset({ADMIN, CSM}),
    "import_data": frozenset({ADMIN}),
    "manage_config": frozenset({ADMIN}),
    "run_rules": frozenset({ADMIN}),
    "manage_programs": frozenset({ADMIN}),
    "view_audit": frozenset({ADMIN}),
    "manage_requests": frozenset({ADMIN}),
    "manage_processes": frozenset({ADMIN}),
    "manage_events": frozenset({ADMIN}),
    # CSEs: they sign up as an event's DRI and file its lab request
    "serve_events": frozenset({ADMIN, CSM}),
}


def has_perm(user: User | AnonymousUser, perm: str) -> bool:
    if perm not in PERMISSIONS:
        raise KeyError(f"unknown permission {perm!r}")
    if not user.is_authenticated or not user.is_active or user.is_pool:
        return False
    return user.is_superuser or user.role in PERMISSIONS[perm]
