from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "csops.core"
    label = "core"
    verbose_name = "Core"
