from django.conf import settings

from csops.core.permissions import has_perm


def navigation(request):
    user = request.user
    return {
        "organisation": settings.CSOPS_ORGANISATION,
        "can_manage_config": has_perm(user, "manage_config"),
        "can_import": has_perm(user, "import_data"),
    }
