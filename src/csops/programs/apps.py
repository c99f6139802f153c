from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "csops.programs"
    label = "programs"
    verbose_name = "Programs"

    def ready(self) -> None:
        from csops.core.scheduler import EVERY_PASS
        from csops.programs import config  # noqa: F401  (registers configuration kinds)
        from csops.programs.tasks import deliver_due, run_due_steps

        EVERY_PASS.extend([run_due_steps, deliver_due])
