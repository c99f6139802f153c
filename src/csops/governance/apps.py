from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "csops.governance"
    label = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from csops.governance import config  # noqa: F401  (registers configuration kinds)
