from django.conf import settings
from django.http import JsonResponse


class ContentSecurityPolicyMiddleware:
    """A strict CSP on every response: our own scripts, styles and images only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CSP_POLICY)
        response.setdefault("Referrer-Policy", "same-origin")
        return response


class ApiJsonErrorsMiddleware:
    """Errors raised outside the API's own handlers (405, unknown paths) are JSON there too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith("/api/") and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            json_response = JsonResponse({"detail": response.reason_phrase}, status=response.status_code)
            if "Allow" in response:
                json_response["Allow"] = response["Allow"]
            return json_response
        return response
