from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "csops.programs"
    label = "programs"
    verbose_name = "Programs"

    def ready(self) -> None:
        from csops.programs import config  # noqa: F401  (registers configuration kinds)
