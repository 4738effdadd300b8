from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print the token only (it is shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token.")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        self.stdout.write(api_token_create(user=user, name=name).key)
