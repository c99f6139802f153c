from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from csops.core.configuration import ConfigError, ConfigResult, apply_configuration
from csops.core.models import User
from csops.governance import actions
from csops.governance.models import ChangeRequest, Status, Verdict
from csops.requests.models import OpsRequest

SYMBOL = {"create": "+", "update": "~", "delete": "-"}
VERDICTS = {
    "approve": Verdict.APPROVE,
    "request_changes": Verdict.REQUEST_CHANGES,
    "reject": Verdict.REJECT,
    "comment": Verdict.COMMENT,
}


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


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Configuration as code. `plan DIR` shows the diff against the database; `apply DIR` proposes it "
        "as a change request (applied at once unless a kind in it needs peer review); `review N` "
        "approves, requests changes, rejects or comments; `changes` lists the open change requests."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["plan", "apply", "review", "changes"])
        parser.add_argument(
            "target", nargs="?", help="The directory (plan, apply) or change number (review)."
        )
        parser.add_argument(
            "--message", "-m", default="", help="Why this change (required to apply), or the review."
        )
        parser.add_argument("--as", dest="actor", default=None, help="Username of the author or reviewer.")
        parser.add_argument("--request", type=int, help="The CS Ops request this change answers (its id).")
        parser.add_argument("--review", action="store_true", help="Ask for a review even where optional.")
        verdict = parser.add_mutually_exclusive_group()
        for name in VERDICTS:
            verdict.add_argument(
                f"--{name.replace('_', '-')}", dest="verdict", action="store_const", const=name
            )

    def handle(self, action, target, message, actor, request, review, verdict, **options):
        try:
            if action == "changes":
                return self.list_open()
            if not target:
                raise CommandError(
                    f"{action}: name the {'change number' if action == 'review' else 'directory'}"
                )
            if action == "review":
                return self.review(target, verdict, message, self.user(actor))
            if action == "plan":
                return self.plan(Path(target))
            return self.apply(Path(target), message, self.user(actor), request, review)
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from exc

    @staticmethod
    def user(username: str | None) -> User | None:
        if username is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--as: no user {username!r}")
        return user

    def plan(self, directory: Path) -> None:
        result = apply_configuration(directory, dry_run=True)
        if not result.diffs:
            self.stdout.write("No changes: the database matches the files.")
            return
        print_result(self.stdout.write, result)
        self.stdout.write(f"Plan: {result.summary()} Run `csops config apply {directory} -m WHY --as YOU`.")

    def apply(
        self, directory: Path, why: str, author: User | None, request: int | None, review: bool
    ) -> None:
        ops_request = None
        if request is not None:
            ops_request = OpsRequest.objects.filter(pk=request).first()
            if ops_request is None:
                raise CommandError(f"--request: no CS Ops request {request}")
        first = not actions.ConfigChange.objects.exists()
        if not first and not why.strip():
            raise CommandError("--message: say why (the changelog keeps it)")
        change = actions.propose_directory(
            directory, author=author, why=why, ops_request=ops_request, ask_review=review
        )
        if first:
            self.stdout.write(
                self.style.SUCCESS("Applied the first configuration (no review: nobody yet to ask).")
            )
        elif change is None:
            self.stdout.write("No changes: the database matches the files.")
        else:
            self.describe(change)

    def describe(self, change: ChangeRequest) -> None:
        print_result(self.stdout.write, ConfigResult(actions.proposed_diffs(change), None))
        if change.status == Status.APPLIED:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Applied change request !{change.number} "
                    f"as configuration change #{change.config_change.number}."
                )
            )
        else:
            self.stdout.write(
                f"Change request !{change.number} opened: it needs another admin's approval "
                f"(`csops config review {change.number} --approve --as THEM`, "
                f"or /governance/changes/{change.number}/)."
            )

    def review(self, number: str, verdict: str | None, body: str, reviewer: User | None) -> None:
        change = ChangeRequest.objects.filter(number=int(number) if number.isdigit() else -1).first()
        if change is None:
            raise CommandError(f"no change request {number}")
        if reviewer is None:
            raise CommandError("--as: name the reviewer")
        if verdict is None:
            raise CommandError("say --approve, --request-changes, --reject or --comment")
        actions.review(change, reviewer=reviewer, verdict=VERDICTS[verdict], body=body)
        change.refresh_from_db()
        if change.status == Status.APPLIED:
            self.stdout.write(self.style.SUCCESS(f"Applied change request !{change.number}."))
        else:
            self.stdout.write(f"!{change.number}: {change.get_status_display()}.")

    def list_open(self) -> None:
        changes = ChangeRequest.objects.filter(status__in=[Status.OPEN, Status.CHANGES_REQUESTED])
        for change in changes.select_related("author"):
            self.stdout.write(
                f"!{change.number}  {change.get_status_display():<18} {change.author}  {change.title}"
            )
        if not changes:
            self.stdout.write("No open change requests.")
