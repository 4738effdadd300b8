import os

from django.core.management.base import BaseCommand

from console.accounts.services import admin_ensure, roles_ensure
from console.home.demo import demo_load


class Command(BaseCommand):
    help = "Create the role groups, the admin account and (--demo) the demo project. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Load the demo project.")

    def handle(self, *args, demo: bool, **options):
        roles_ensure()
        account = admin_ensure(password=os.environ.get("FORGE_ADMIN_PASSWORD") or None)
        if account.password:
            bar = "=" * 64
            self.stdout.write(
                f"{bar}\nCreated the admin account.\n"
                f"  user:     admin\n  password: {account.password}\n"
                f"This password is shown once. Set FORGE_ADMIN_PASSWORD to choose your own.\n{bar}"
            )
        if demo and demo_load(admin=account.user):
            self.stdout.write("Loaded the demo project.")
