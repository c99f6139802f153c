from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "csops.health"
    label = "health"
    verbose_name = "Health"

    def ready(self) -> None:
        from csops.health import config  # noqa: F401  (registers configuration kinds)
        from csops.health.imports import register

        register()
