from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "csops.rules"
    label = "rules"
    verbose_name = "Rules"

    def ready(self) -> None:
        from csops.rules import config, incremental  # noqa: F401  (configuration kinds, change hooks)
