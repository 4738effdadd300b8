"""Lockout keyed by the credential and the address (issue 14, S15), node tokens apart.

Old rows counted user and node tokens together by address alone; their meaning changed,
so they are dropped: failures recorded before the upgrade are forgotten (at most one
lockout window's worth).
"""

from django.db import migrations, models


def forget_old_failures(apps, schema_editor):
    apps.get_model("accounts", "AuthFailure").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles")]

    operations = [
        migrations.RunPython(forget_old_failures, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="authfailure", name="accounts_au_kind_b15b69_idx"),
        migrations.RemoveField(model_name="authfailure", name="ip"),
        migrations.AddField(
            model_name="authfailure",
            name="address",
            field=models.CharField(
                default="",
                help_text="The client's address (an IPv6 client's /64 network), as the lockout "
                "counts it.",
                max_length=64,
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="authfailure",
            name="key",
            field=models.CharField(
                blank=True,
                help_text="The credential's identity: the username typed (lower case), or a "
                "token's prefix; empty for a token that has no well-formed prefix.",
                max_length=200,
            ),
        ),
        migrations.AlterField(
            model_name="authfailure",
            name="kind",
            field=models.CharField(
                choices=[
                    ("password", "Password"),
                    ("token", "User token"),
                    ("node_token", "Node token"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="authfailure",
            index=models.Index(
                fields=["kind", "key", "address", "created_at"], name="authfail_pair_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="authfailure",
            index=models.Index(
                fields=["kind", "address", "created_at"], name="authfail_address_idx"
            ),
        ),
    ]
