from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "csops.events"
    label = "events"
    verbose_name = "Webinars and labs"

    def ready(self) -> None:
        from csops.events import config  # noqa: F401  (registers configuration kinds)
