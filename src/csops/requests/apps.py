from django.apps import AppConfig


class RequestsConfig(AppConfig):
    name = "csops.requests"
    label = "requests"
    verbose_name = "CS Ops requests"

    def ready(self) -> None:
        from csops.requests import config  # noqa: F401  (registers configuration kinds)
