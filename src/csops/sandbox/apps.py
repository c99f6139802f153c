from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "csops.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox cleanup"

    def ready(self) -> None:
        from csops.sandbox import config  # noqa: F401  (registers configuration kinds)
