from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "csops.timeline"
    label = "timeline"
    verbose_name = "Timeline"

    def ready(self) -> None:
        from csops.timeline import config  # noqa: F401  (registers configuration kinds)
        from csops.timeline.imports import register

        register()
