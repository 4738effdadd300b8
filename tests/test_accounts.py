import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from console.accounts.models import ApiToken
from console.accounts.services import token_hash
from console.audit.models import AuditEvent
from console.core.roles import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_role_groups_exist_after_migrations():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_login_and_logout(personas):
    client = Client()
    response = client.post("/login/", {"username": "milo_ml", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_lockout_after_repeated_failures(personas, settings):
    settings.FORGE_LOCKOUT_FAILURES = 3
    client = Client()
    for _ in range(3):
        response = client.post("/login/", {"username": "milo_ml", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/login/", {"username": "milo_ml", "password": PASSWORD})
    assert response.status_code == 200 and b"Too many failed logins" in response.content
    assert AuditEvent.objects.filter(action="auth.password_lockout").exists()
    # the admin panel's login goes through the same backend
    response = client.post("/admin/login/", {"username": "milo_ml", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_account(personas, settings):
    settings.FORGE_LOCKOUT_FAILURES = 2
    client = Client()
    for _ in range(2):
        client.post("/login/", {"username": "vera_viewer", "password": "wrong"})
    # vera's account is locked from this address: her right password is refused...
    response = Client().post("/login/", {"username": "vera_viewer", "password": PASSWORD})
    assert response.status_code == 200 and b"Too many failed logins" in response.content
    # ...while another account, from the same address, still logs in (S15)
    response = client.post("/login/", {"username": "milo_ml", "password": PASSWORD})
    assert response.status_code == 302


def test_api_token_command_prints_only_the_token(personas, capsys):
    call_command("api_token", "milo_ml", "--name", "ci")
    out = capsys.readouterr().out.strip()
    assert out.startswith("fg_") and "\n" not in out
    assert ApiToken.objects.get(key_hash=token_hash(out)).user == personas.ml_engineer


def test_api_token_command_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active user"):
        call_command("api_token", "ghost")


def test_token_page_shows_the_key_once(personas):
    client = Client()
    client.force_login(personas.viewer)
    response = client.post("/account/tokens/", {"name": "laptop"})
    key = response.context["issued"].key
    assert key.encode() in response.content
    again = client.get("/account/tokens/")
    assert key.encode() not in again.content and b"laptop" in again.content
    token = ApiToken.objects.get(name="laptop")
    client.post(f"/account/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_cannot_revoke_someone_elses_token(personas):
    from console.accounts.services import api_token_create

    theirs = api_token_create(user=personas.admin, name="admin-token").token
    client = Client()
    client.force_login(personas.viewer)
    assert client.post(f"/account/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_forge_setup_creates_admin_once_and_prints_generated_password(db, capsys, monkeypatch):
    monkeypatch.delenv("FORGE_ADMIN_PASSWORD", raising=False)
    call_command("forge_setup", "--demo")
    out = capsys.readouterr().out
    assert "password:" in out and "Loaded the demo project" in out
    password = out.split("password:")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    call_command("forge_setup", "--demo")
    assert "password:" not in capsys.readouterr().out
    assert admin.jobs.count() == 2  # the demo job and the sample corpus ingest, loaded once


def test_forge_setup_uses_given_password(db, monkeypatch):
    monkeypatch.setenv("FORGE_ADMIN_PASSWORD", "a-long-chosen-password")
    call_command("forge_setup")
    assert get_user_model().objects.get(username="admin").check_password("a-long-chosen-password")


def test_user_without_role_is_forbidden_everywhere(db):
    user = UserFactory(username="norole")
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 403


def test_role_changes_in_the_admin_panel_are_audited(personas):
    personas.admin.is_staff = personas.admin.is_superuser = True
    personas.admin.save()
    client = Client()
    client.force_login(personas.admin)
    user = personas.viewer
    reviewer_group = Group.objects.get(name="reviewer")
    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": user.username,
            "email": user.email,
            "is_active": "on",
            "groups": [reviewer_group.pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="user.update", object_id=str(user.pk))
    assert event.before["roles"] == ["viewer"] and event.after["roles"] == ["reviewer"]
    assert event.actor == personas.admin
