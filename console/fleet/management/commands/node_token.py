from django.core.management.base import BaseCommand, CommandError

from console.fleet import services
from console.fleet.models import Node


class Command(BaseCommand):
    help = "Create the node if needed and print a new token for its agent (the token only)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name: str, **options):
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_slug

        try:
            validate_slug(name)
        except ValidationError:
            raise CommandError(
                f"{name!r} is not a valid node name (letters, digits, - and _)."
            ) from None
        node = Node.objects.filter(name=name).first()
        actor = "manage.py node_token"
        issued = (
            services.node_create(actor=actor, name=name)
            if node is None
            else services.node_token_issue(actor=actor, node=node)
        )
        self.stdout.write(issued.key)
