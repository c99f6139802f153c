from django.apps import AppConfig


class EngagementsConfig(AppConfig):
    name = "csops.engagements"
    label = "engagements"
    verbose_name = "CSE engagements"

    def ready(self) -> None:
        from csops.engagements import config  # noqa: F401  (registers configuration kinds)
