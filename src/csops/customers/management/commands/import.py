from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from csops.core.models import User
from csops.customers.actions import ImportRejected, import_records, write_error_file
from csops.customers.imports import KINDS, WRITERS, ImportFileError, validate
from csops.usage.actions import import_usage

MAX_SHOWN = 50


class Command(BaseCommand):
    help = "Import accounts, contacts, activities, usage and more from CSV or Parquet (upsert by id)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)
        parser.add_argument("--partial", action="store_true",
                            help="Write the valid rows and put the bad ones in an error CSV.")
        parser.add_argument("--error-file", type=Path, default=None,
                            help="Where --partial writes bad rows (default FILE.errors.csv).")
        parser.add_argument("--as", dest="actor", default=None, help="Username recorded in the audit trail.")

    def handle(self, kind, file, partial, error_file, actor, **options):
        author = User.objects.filter(username=actor).first() if actor else None
        if actor and author is None:
            raise CommandError(f"--as: no user {actor!r}")
        self.stderr.write(f"Validating {file} …")
        try:
            validation = validate(kind, file)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if validation.ignored_columns:
            self.stderr.write(f"Ignored columns: {', '.join(validation.ignored_columns)}")
        error_file = error_file or file.with_name(file.name + ".errors.csv")
        try:
            if kind == "usage":
                written = import_usage(validation, partial=partial)
                if validation.errors:
                    write_error_file(validation, error_file)
                self.stdout.write(f"usage: {written} snapshots written, "
                                  f"{len(validation.bad_lines)} rejected")
                return
            write = WRITERS.get(kind, import_records)
            run = write(validation, actor=author, file_name=file.name, partial=partial, error_path=error_file)
        except ImportRejected as exc:
            for error in exc.errors[:MAX_SHOWN]:
                self.stderr.write(f"{file.name}: {error}")
            if len(exc.errors) > MAX_SHOWN:
                self.stderr.write(f"… and {len(exc.errors) - MAX_SHOWN} more")
            raise CommandError(f"{len(exc.errors)} error(s) in {len(validation.bad_lines)} row(s); "
                               "nothing was imported (use --partial to import the valid rows)") from exc
        self.stdout.write(
            f"{kind}: {run.rows} rows: {run.created} created, {run.updated} updated, "
            f"{run.unchanged} unchanged, {run.failed} rejected in {run.seconds:.1f}s"
        )
        if run.failed:
            self.stdout.write(f"Rejected rows written to {error_file}")
