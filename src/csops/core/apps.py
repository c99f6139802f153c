from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "csops.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from csops.core import config  # noqa: F401  (registers configuration kinds)
