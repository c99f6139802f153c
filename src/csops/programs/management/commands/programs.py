from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from csops.customers.models import Account, Segment
from csops.programs.actions import enrol_accounts
from csops.programs.models import Program
from csops.programs.runner import advance


class Command(BaseCommand):
    help = (
        "Programs: `list`; `enrol PROGRAM (--segment NAME | --account CRM_ID…)` enrols the accounts' "
        "program recipients; `run` walks every due step now (the worker does it on every pass)."
    )

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["list", "enrol", "run"])
        parser.add_argument("program", nargs="?", help="enrol: the program's name")
        parser.add_argument("--segment", help="enrol: every account of this segment")
        parser.add_argument(
            "--account", action="append", default=[], help="enrol: an account's CRM id (repeatable)"
        )

    def handle(self, verb, program, segment, account, **options):
        if verb == "list":
            for item in Program.objects.all():
                state = "active" if item.active else "inactive"
                self.stdout.write(
                    f"{item.name:40} {len(item.steps):3} steps  {item.get_repeat_display():28} {state}"
                )
        elif verb == "run":
            self.stdout.write(f"Programs: {advance(progress=self.stderr.write)}")
        else:
            self.stdout.write(f"{program}: {self.enrol(program, segment, account)}")

    def enrol(self, name: str | None, segment: str | None, crm_ids: list[str]):
        chosen = Program.objects.filter(name=name).first() if name else None
        if chosen is None:
            raise CommandError(f"enrol: no program {name!r} (see `csops programs list`)")
        if bool(segment) == bool(crm_ids):
            raise CommandError("enrol: give either --segment NAME or --account CRM_ID")
        if segment:
            if not Segment.objects.filter(name=segment).exists():
                raise CommandError(f"--segment: no segment {segment!r}")
            ids = list(Account.objects.filter(segment__name=segment).values_list("pk", flat=True))
        else:
            found = dict(Account.objects.filter(external_id__in=crm_ids).values_list("external_id", "pk"))
            missing = [c for c in crm_ids if c not in found]
            if missing:
                raise CommandError(f"--account: no account with CRM id {missing[0]!r}")
            ids = list(found.values())
        try:
            return enrol_accounts(chosen, ids, source="manual", source_ref="csops programs enrol")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
