from django.core.management.base import BaseCommand, CommandError

from csops.core.actions import create_token, revoke_token
from csops.core.models import ApiToken, User


class Command(BaseCommand):
    help = "API tokens: `create USER`, `list [USER]`, `revoke PREFIX`."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("target", nargs="?", help="A username (create, list) or a token prefix (revoke).")
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, action, target, name, **options):
        if action == "create":
            user = self._user(target)
            _, secret = create_token(user, actor=None, name=name)
            self.stdout.write(secret)
            self.stderr.write(f"Token for {user.username} created; it is shown once. "
                              "Send it as `Authorization: Bearer <token>`.")
        elif action == "list":
            tokens = ApiToken.objects.select_related("user")
            if target:
                tokens = tokens.filter(user=self._user(target))
            for token in tokens:
                state = "revoked" if token.revoked_at else f"last used {token.last_used_at or 'never'}"
                self.stdout.write(f"{token.prefix}…  {token.user.username:20} {token.name:20} {state}")
        else:
            if not target:
                raise CommandError("revoke: give the token's prefix (see `csops token list`)")
            token = ApiToken.objects.filter(prefix=target).first()
            if token is None:
                raise CommandError(f"no token with prefix {target!r}")
            revoke_token(token, actor=None)
            self.stdout.write(f"Revoked {token.prefix}…")

    @staticmethod
    def _user(username: str | None) -> User:
        if not username:
            raise CommandError("give a username")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        if user.is_pool:
            raise CommandError(f"{username!r} is a pool, not a person")
        return user
