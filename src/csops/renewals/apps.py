from django.apps import AppConfig


class RenewalsConfig(AppConfig):
    name = "csops.renewals"
    label = "renewals"
    verbose_name = "Renewals and retention"

    def ready(self) -> None:
        from csops.renewals import config  # noqa: F401  (registers configuration kinds)
        from csops.renewals.imports import register

        register()
