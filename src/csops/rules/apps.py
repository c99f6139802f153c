from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "csops.rules"
    label = "rules"
    verbose_name = "Rules"

    def ready(self) -> None:
        from csops.core.scheduler import SOURCES
        from csops.rules import config, incremental  # noqa: F401  (configuration kinds, change hooks)
        from csops.rules.actions import fire_due_rules

        SOURCES.append(fire_due_rules)
