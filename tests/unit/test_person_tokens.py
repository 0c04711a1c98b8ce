"""The token that names the person at the console to intake: signed, short-lived, and
refused when forged, tampered with, expired or made to live longer than 60 s."""

import base64
import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr
from starlette.requests import Request

from chuishao.common.person_tokens import (
    MAX_TTL_SECONDS,
    PersonClaims,
    PersonTokenError,
    sign,
    verify,
)
from chuishao.common.roles import PersonRole
from chuishao.common.settings import KnownSecretError
from chuishao.console.auth import CSRF_COOKIE, csrf_field
from chuishao.console.throttle import lock_message
from chuishao.console.web.login import safe_next
from chuishao.intake.settings import IntakeSettings

SECRET = "a-secret"
NOW = 1_800_000_000.0
WANG = PersonClaims("wang", PersonRole.CLERK, unit="grid-heyuan")


def test_a_token_carries_the_person_role_and_scope() -> None:
    claims = verify(SECRET, sign(SECRET, WANG, NOW), NOW + 1)
    assert (claims.username, claims.role, claims.unit) == ("wang", PersonRole.CLERK, "grid-heyuan")
    assert claims.street is None
    assert claims.expires_at == NOW + 30


def test_it_expires() -> None:
    token = sign(SECRET, WANG, NOW, ttl=10)
    verify(SECRET, token, NOW + 9.9)
    with pytest.raises(PersonTokenError, match="expired"):
        verify(SECRET, token, NOW + 10)


def test_it_lives_at_most_a_minute_whatever_the_signer_asks() -> None:
    token = sign(SECRET, WANG, NOW, ttl=3600)
    assert verify(SECRET, token, NOW).expires_at == NOW + MAX_TTL_SECONDS


def signed_by_hand(claims: dict[str, object]) -> str:
    """A token with these claims, signed with SECRET the way the console signs: what
    someone holding the secret could make without going through `sign`."""
    part = base64.urlsafe_b64encode(json.dumps(claims).encode())
    part_text = part.rstrip(b"=").decode()
    mac = hmac.new(SECRET.encode(), b"person:" + part_text.encode(), hashlib.sha256).digest()
    return f"{part_text}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_a_long_lived_token_signed_by_hand_is_refused() -> None:
    body = {"u": "wang", "r": "city", "unit": None, "street": None, "district": None}
    token = signed_by_hand({**body, "exp": NOW + 3600})
    with pytest.raises(PersonTokenError, match="long-lived"):
        verify(SECRET, token, NOW)


@pytest.mark.parametrize(
    "forged",
    [
        sign("another-secret", WANG, NOW),
        sign(SECRET, WANG, NOW).replace(".", "x.", 1),
        sign(SECRET, WANG, NOW) + "A",
        "no-dot",
        ".",
        "é.ü",
    ],
)
def test_a_forged_or_tampered_token_is_refused(forged: str) -> None:
    with pytest.raises(PersonTokenError):
        verify(SECRET, forged, NOW)


def test_a_claimed_role_must_be_one_of_ours() -> None:
    token = signed_by_hand({"u": "x", "r": "king", "exp": NOW + 5})
    with pytest.raises(PersonTokenError, match="malformed"):
        verify(SECRET, token, NOW)


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/clerk", "/clerk"),
        ("/tickets/T1?tab=history", "/tickets/T1?tab=history"),
        ("//evil.example/", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_after_login_only_a_path_of_this_site_is_followed(
    target: str | None, kept: str | None
) -> None:
    assert safe_next(target) == kept


def test_the_lock_message_says_how_long_in_minutes() -> None:
    assert "15 分钟" in lock_message(900)
    assert "1 分钟" in lock_message(5)


def test_the_csrf_field_escapes_what_it_writes() -> None:
    cookie = f'{CSRF_COOKIE}=a"b<c'.encode()
    request = Request({"type": "http", "headers": [(b"cookie", cookie)], "state": {}})
    field = str(csrf_field(request))
    assert 'value="a&#34;b&lt;c"' in field
    assert field.startswith('<input type="hidden" name="csrf_token"')


def test_intake_with_a_console_key_needs_a_person_token_secret() -> None:
    def intake(console: bool, person_secret: str = "") -> IntakeSettings:
        return IntakeSettings(
            console_api_keys={"digest": "console"} if console else {},
            person_token_secret=SecretStr(person_secret),
            resident_link_secret=SecretStr("r" * 32),
            reporter_ref_secret=SecretStr("s" * 32),
            allow_test_secrets=False,
        )

    with pytest.raises(KnownSecretError, match="CHUISHAO_PERSON_TOKEN_SECRET"):
        intake(console=True).refuse_known_secrets()
    intake(console=True, person_secret="p" * 32).refuse_known_secrets()
    intake(console=False).refuse_known_secrets()  # no console, no secret needed
