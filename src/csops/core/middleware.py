from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """A strict CSP on every response: our own scripts, styles and images only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CSP_POLICY)
        response.setdefault("Referrer-Policy", "same-origin")
        return response
