from django.apps import AppConfig


class CockpitConfig(AppConfig):
    name = "csops.cockpit"
    label = "cockpit"
    verbose_name = "Cockpit"

    def ready(self) -> None:
        from csops.cockpit import config  # noqa: F401  (registers configuration kinds)
