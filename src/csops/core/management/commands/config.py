from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from csops.core.configuration import ConfigError, ConfigResult, apply_configuration
from csops.core.models import User

SYMBOL = {"create": "+", "update": "~", "delete": "-"}


def print_result(write, result: ConfigResult) -> None:
    kind = None
    for diff in result.diffs:
        if diff.kind != kind:
            kind = diff.kind
            write(f"{kind}:")
        write(f"  {SYMBOL[diff.verb]} {diff.key}")
        if diff.verb == "update":
            for name, (old, new) in diff.changes.items():
                write(f"      {name}: {old!r} -> {new!r}")


class Command(BaseCommand):
    help = "Configuration as code: `plan DIR` shows the diff against the database; `apply DIR` applies it."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["plan", "apply"])
        parser.add_argument("directory", type=Path)
        parser.add_argument("--message", "-m", default="", help="Why this change (kept with the version).")
        parser.add_argument("--as", dest="actor", default=None, help="Username recorded as the author.")

    def handle(self, action, directory, message, actor, **options):
        author = None
        if actor:
            author = User.objects.filter(username=actor).first()
            if author is None:
                raise CommandError(f"--as: no user {actor!r}")
        try:
            result = apply_configuration(directory, actor=author, message=message,
                                         dry_run=action == "plan")
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        if not result.diffs:
            self.stdout.write("No changes: the database matches the files.")
            return
        print_result(self.stdout.write, result)
        if action == "plan":
            self.stdout.write(f"Plan: {result.summary()} Run `csops config apply {directory}` to apply.")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Applied as change #{result.change.number}: {result.summary()}"))
