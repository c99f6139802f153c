"""The REST API under /api/v1/: every error is JSON `{"detail": ...}` with a 4xx status."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from csops.cockpit.api import router as cockpit_router
from csops.core.api import AUTH, field_errors
from csops.customers.api import router as customers_router
from csops.engagements.api import router as engagements_router
from csops.engagements.escalation_api import router as escalations_router
from csops.governance.api import router as governance_router
from csops.governance.responsibility_api import router as core_processes_router
from csops.requests.api import router as requests_router
from csops.timeline.api import router as timeline_router

api = NinjaAPI(
    title="csops API", version="1", urls_namespace="api", auth=AUTH,
    description="Bearer tokens come from `csops token create USER`.",
)
api.add_router("/", customers_router)
api.add_router("/", cockpit_router)
api.add_router("/", timeline_router)
api.add_router("/", engagements_router)
api.add_router("/", escalations_router)
api.add_router("/", requests_router)
api.add_router("/", core_processes_router)
api.add_router("/", governance_router)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    return api.create_response(request, {"detail": field_errors(exc)}, status=422)


@api.exception_handler(DataError)
def bad_value(request, exc: DataError):
    # The database refused a value the parsers let through (a NUL character in text on
    # PostgreSQL, say): bad input, so a 422, not a server error.
    reason = str(exc).splitlines()[0] if str(exc) else "a value the database cannot store"
    return api.create_response(request, {"detail": [{"loc": [], "msg": f"Invalid value: {reason}"}]},
                               status=422)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def forbidden(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


@api.exception_handler(AuthenticationError)
def unauthorized(request, exc):
    return api.create_response(
        request, {"detail": "Authentication required: send `Authorization: Bearer <token>`."},
        status=401,
    )
