"""Lockout is not a denial of service (issue 14 item 3; RELIABILITY S11, S15).

Everything goes through the real stack: the middleware that decides the client's address,
DRF's authentication classes on the user API (/api/v1/) and on the agents' API
(/api/agent/v1/), and the login form. Guessers are locked; valid credentials from the
same address keep working.
"""

from __future__ import annotations

import secrets

import pytest
from django.test import Client
from rest_framework.test import APIClient

from console.accounts.models import AuthFailure
from console.accounts.services import api_token_create
from console.audit.models import AuditEvent
from console.core.context import client_ip
from console.fleet import services as fleet_services
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed"
USER = "/api/v1/me/"


def user_call(key: str, **extra):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(USER, **extra)


def node_call(key: str, **extra):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {key}")
    return client.post("/api/agent/v1/heartbeat", {}, format="json", **extra)


NAMESPACES = {
    # namespace: (key prefix, the call, the AuthFailure kind, the audit action's stem)
    "user": ("fg_", user_call, AuthFailure.Kind.TOKEN, "auth.token"),
    "node": ("fn_", node_call, AuthFailure.Kind.NODE_TOKEN, "auth.node_token"),
}


def random_key(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def detail(response) -> str:
    return response.json()["detail"]


@pytest.fixture
def valid_keys(personas):
    """A valid user token (the admin's) and a valid node token (a local agent's)."""
    user_key = api_token_create(user=personas.admin, name="admin-cli").key
    node_key = fleet_services.node_create(actor=None, name="local").key
    assert user_call(user_key).status_code == 200
    assert node_call(node_key).status_code == 200
    return {"user": user_key, "node": node_key}


# ------------------------------------------------------------------ the fuzzer on 127.0.0.1


def test_valid_tokens_keep_working_while_the_same_address_sends_bad_ones(valid_keys, settings):
    """The incident: a fuzzer sending invalid tokens from 127.0.0.1 locked the admin and
    the local agent out. Now 25 bad keys of each kind, from the same address, lock the
    guesser and neither valid token, at any point."""
    assert settings.FORGE_LOCKOUT_ADDRESS_FAILURES == 20  # the documented default
    answers = {"user": [], "node": []}
    for i in range(25):
        for name, (prefix, call, _kind, _stem) in NAMESPACES.items():
            # a random key, a key with no prefix at all, a known token's prefix + a wrong tail
            bad = [random_key(prefix), secrets.token_hex(8), valid_keys[name][:10] + "x" * 33]
            response = call(bad[i % 3])
            assert response.status_code == 401
            answers[name].append(detail(response))
            assert call(valid_keys[name]).status_code == 200, (name, i)

    for name, (_prefix, _call, kind, stem) in NAMESPACES.items():
        # the guesser is locked: first told "invalid", then "too many" once the address is
        assert not any(LOCKED in text for text in answers[name][:5]), answers[name]
        assert all(LOCKED in text for text in answers[name][-3:]), answers[name]
        assert AuditEvent.objects.filter(action=f"{stem}_lockout").exists()
        # a locked guesser is not recorded again: its rows stop at the address threshold
        assert AuthFailure.objects.filter(kind=kind).count() <= 20
    # the agent never saw a refusal: it kept working the whole time
    assert AuditEvent.objects.filter(action="agent.auth_failed").count() <= 20


@pytest.mark.parametrize("namespace", ["user", "node"])
def test_a_random_key_guesser_is_locked_by_its_address(valid_keys, settings, namespace):
    settings.FORGE_LOCKOUT_ADDRESS_FAILURES = 6
    prefix, call, kind, _stem = NAMESPACES[namespace]
    texts = [detail(call(random_key(prefix))) for _ in range(8)]
    assert [LOCKED in t for t in texts] == [False] * 6 + [True] * 2, texts
    assert AuthFailure.objects.filter(kind=kind).count() == 6
    # another address is not locked, and the valid key works from both
    assert LOCKED not in detail(call(random_key(prefix), REMOTE_ADDR="192.0.2.10"))
    assert call(valid_keys[namespace]).status_code == 200
    assert call(valid_keys[namespace], REMOTE_ADDR="192.0.2.10").status_code == 200


def test_user_and_node_tokens_are_separate_namespaces(valid_keys, settings):
    settings.FORGE_LOCKOUT_ADDRESS_FAILURES = 3
    for _ in range(4):
        user_call(random_key("fg_"))
    assert LOCKED in detail(user_call(random_key("fg_")))
    # the node namespace from the same address has seen nothing
    assert detail(node_call(random_key("fn_"))) == "Invalid or revoked node token."
    for _ in range(3):
        node_call(random_key("fn_"))
    assert LOCKED in detail(node_call(random_key("fn_")))
    assert user_call(valid_keys["user"]).status_code == 200
    assert node_call(valid_keys["node"]).status_code == 200


# ------------------------------------------------------------------ a targeted guess


@pytest.mark.parametrize("namespace", ["user", "node"])
def test_guessing_one_token_locks_that_prefix_from_that_address(valid_keys, settings, namespace):
    settings.FORGE_LOCKOUT_FAILURES = 3
    prefix, call, kind, stem = NAMESPACES[namespace]
    key = valid_keys[namespace]
    target = key[:10]

    def guess(**extra):
        return detail(call(target + secrets.token_urlsafe(32), **extra))

    texts = [guess() for _ in range(4)]
    assert [LOCKED in t for t in texts] == [False, False, False, True], texts
    assert AuthFailure.objects.filter(kind=kind, key=target, address="127.0.0.1").count() == 3
    lockout = AuditEvent.objects.get(action=f"{stem}_lockout")
    assert lockout.after["identity"] == target and lockout.after["locked"] == "credential"
    # only that (prefix, address) pair: another token's guess here, this prefix elsewhere
    assert LOCKED not in detail(call(random_key(prefix)))
    assert LOCKED not in guess(REMOTE_ADDR="198.51.100.7")
    # and the token's owner, at the guesser's address or elsewhere, is never locked out
    assert call(key).status_code == 200
    assert call(key, REMOTE_ADDR="198.51.100.7").status_code == 200


# ------------------------------------------------------------------ the client's address


def test_forwarded_for_is_ignored_by_default(valid_keys, settings):
    """Off by default: a client cannot escape its lockout by inventing X-Forwarded-For."""
    assert settings.FORGE_TRUSTED_PROXIES == []
    settings.FORGE_LOCKOUT_FAILURES = 3
    target = valid_keys["user"][:10]
    texts = [
        detail(user_call(target + "x" * 33, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"))
        for i in range(4)
    ]
    assert LOCKED in texts[-1], texts
    assert set(AuthFailure.objects.values_list("address", flat=True)) == {"127.0.0.1"}


def test_forwarded_for_is_read_only_from_a_trusted_proxy(valid_keys, settings):
    settings.FORGE_LOCKOUT_FAILURES = 3
    target = valid_keys["user"][:10]

    def guess(forwarded: str, remote: str = "127.0.0.1") -> str:
        return detail(
            user_call(target + "x" * 33, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
        )

    # trusted proxies configured, but REMOTE_ADDR is not one of them: the header is ignored
    settings.FORGE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    guess("203.0.113.5", remote="192.0.2.99")
    assert AuthFailure.objects.get().address == "192.0.2.99"
    AuthFailure.objects.all().delete()

    # behind the trusted proxy on 127.0.0.1, each client is counted on its own
    settings.FORGE_TRUSTED_PROXIES = ["127.0.0.1"]
    assert [LOCKED in guess("203.0.113.5") for _ in range(4)] == [False, False, False, True]
    assert LOCKED not in guess("203.0.113.6")  # a colleague behind the same proxy
    # what a client writes to the left of its own address is not believed
    assert LOCKED not in guess("203.0.113.5, 203.0.113.6")
    assert AuthFailure.objects.filter(address="203.0.113.6").count() == 2
    assert AuditEvent.objects.filter(action="auth.token_failed").first().ip == "203.0.113.6"
    assert user_call(valid_keys["user"], HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 200


@pytest.mark.parametrize(
    ("trusted", "meta", "expected"),
    [
        ([], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.1"),
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "1.2.3.4"),
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.2"),
        # two trusted hops: the rightmost address that is not a proxy is the client
        (
            ["10.0.0.0/8"],
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.9.9.9"},
            "1.2.3.4",
        ),
        (
            ["10.0.0.1"],
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4:5678"},
            "1.2.3.4",
        ),
        # garbage from the proxy: keep the last hop that can be vouched for
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "evil"}, "10.0.0.1"),
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),
        (["::1"], {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::7"}, "2001:db8::7"),
        ([], {"REMOTE_ADDR": "::ffff:192.0.2.1"}, "192.0.2.1"),
    ],
)
def test_client_ip(settings, trusted, meta, expected):
    settings.FORGE_TRUSTED_PROXIES = trusted
    assert client_ip(meta) == expected


def test_an_ipv6_client_counts_as_its_slash_64(valid_keys, settings):
    settings.FORGE_LOCKOUT_ADDRESS_FAILURES = 3
    for i in range(3):  # hopping between addresses of one /64 does not escape the lock
        user_call(random_key("fg_"), REMOTE_ADDR=f"2001:db8:1:2::{i + 1}")
    assert LOCKED in detail(user_call(random_key("fg_"), REMOTE_ADDR="2001:db8:1:2::99"))
    assert LOCKED not in detail(user_call(random_key("fg_"), REMOTE_ADDR="2001:db8:1:3::1"))
    assert user_call(valid_keys["user"], REMOTE_ADDR="2001:db8:1:2::99").status_code == 200


# ------------------------------------------------------------------ passwords


def login(username: str, password: str, **extra):
    return Client().post("/login/", {"username": username, "password": password}, **extra)


def test_wrong_passwords_for_one_account_do_not_lock_another(personas, settings):
    settings.FORGE_LOCKOUT_FAILURES = 3
    for _ in range(25):  # a guesser at vera's account, from the address everyone shares
        login("vera_viewer", "wrong-guess")
    assert login("milo_ml", PASSWORD).status_code == 302
    # vera's account is locked from this address, even with her right password...
    response = login("vera_viewer", PASSWORD)
    assert response.status_code == 200 and b"Too many failed logins" in response.content
    # ...but not from another address
    assert login("vera_viewer", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    assert AuthFailure.objects.filter(kind="password").count() == 3  # locked: not recorded


def test_a_guesser_of_unknown_usernames_does_not_lock_valid_logins(personas, settings):
    settings.FORGE_LOCKOUT_FAILURES = 3
    for i in range(25):
        login(f"nobody{i % 5}", "wrong-guess")
    # unknown usernames lock like real ones, so the lockout does not tell which exist
    response = login("nobody0", "wrong-guess")
    assert response.status_code == 200 and b"Too many failed logins" in response.content
    assert login("milo_ml", PASSWORD).status_code == 302
    # what was typed as a username that does not exist is kept out of the audit log
    failed = AuditEvent.objects.filter(action__startswith="auth.password_")
    assert failed.exists() and not failed.filter(object_id__startswith="nobody").exists()
    assert all(event.after["identity"] == "" for event in failed)


def test_a_successful_login_forgets_its_own_typos(personas, settings):
    settings.FORGE_LOCKOUT_FAILURES = 3
    for _ in range(2):
        login("milo_ml", "typo")
    assert login("milo_ml", PASSWORD).status_code == 302
    for _ in range(2):
        login("milo_ml", "typo")
    assert login("milo_ml", PASSWORD).status_code == 302  # not 4 failures in a row
