"""Who is asking: API keys (stored hashed) for units, operators and Open311 clients;
signed tokens for residents; and a person at the console: the console's own key plus a
short-lived token naming the person (chuishao.common.person_tokens, docs/console.md)."""

import time
from dataclasses import dataclass, field

from chuishao.common.domain import Level
from chuishao.common.errors import ApiError
from chuishao.common.kv import KvView
from chuishao.common.person_tokens import PersonClaims, PersonTokenError, verify
from chuishao.common.roles import PersonRole
from chuishao.common.tokens import hash_api_key, resident_token_valid
from chuishao.common.unit_contacts import UnitContact
from chuishao.intake.lifecycle import Actor
from chuishao.intake.scopes import CallerScope


@dataclass
class ApiKeys:
    units: dict[str, str]
    operators: dict[str, str]
    open311: dict[str, str]
    unit_directory: KvView[UnitContact]
    supervisor_kinds: tuple[str, ...]
    resident_secret: str
    # The console's service keys (SHA-256 → its name) and the secret its person tokens
    # are signed with; no secret: no console is trusted.
    console: dict[str, str] = field(default_factory=dict)
    person_secret: str = ""

    def actor(self, api_key: str | None, person_token: str | None = None) -> Actor | None:
        """The caller of a key; for the console's key, the person its token names (an
        ApiError 401 when that token is missing, forged or expired)."""
        if not api_key:
            return None
        digest = hash_api_key(api_key)
        if (unit_id := self.units.get(digest)) is not None:
            return self.actor_for_unit(unit_id)
        if (operator := self.operators.get(digest)) is not None:
            return Actor("operator", operator)
        if digest in self.console:
            return self.person(person_token, time.time())
        return None

    def person(self, token: str | None, now: float) -> Actor:
        """The console's person as intake's actor: a clerk acts as their unit, a street's
        command centre as that street's command-centre unit, a district as the district's
        unit, the city level as the city centre, with those units' scopes; an operator as
        an operator. Real time on both sides: the stack clock may be moved, tokens not."""
        if not token or not self.person_secret:
            raise person_refused()
        try:
            claims = verify(self.person_secret, token, now)
        except PersonTokenError as error:
            raise person_refused() from error
        if claims.role == PersonRole.OPERATOR:
            return Actor("operator", claims.username, person=claims.username)
        unit_id = self.unit_of_person(claims)
        if unit_id is None:
            raise ApiError(
                403,
                "person_without_unit",
                "您的账号没有对应的单位或指挥中心，请联系管理员",
                "Your account has no unit or command centre behind it; ask the administrator",
            )
        actor = self.actor_for_unit(unit_id)
        return Actor(actor.kind, actor.id, actor.scope, person=claims.username, level=actor.level)

    def unit_of_person(self, claims: PersonClaims) -> str | None:
        """The unit a person acts as (None: none, e.g. an admin, who sees no tickets)."""
        role = claims.role
        if role == PersonRole.CLERK:
            return claims.unit
        for unit in self.unit_directory.all():
            if unit.kind not in self.supervisor_kinds:
                continue
            if role == PersonRole.COMMAND_CENTRE and unit.level == Level.STREET:
                if claims.street in unit.coverage or unit.streets == (claims.street,):
                    return unit.id
            elif role == PersonRole.DISTRICT and unit.level == Level.DISTRICT:
                if claims.district in unit.coverage:
                    return unit.id
            elif role == PersonRole.CITY and unit.level == Level.CITY:
                return unit.id
        return None

    def actor_for_unit(self, unit_id: str) -> Actor:
        """A unit; a supervisor (command centre, district) with the place it answers for,
        from the router's directory. A unit not in the directory is an ordinary unit."""
        unit = self.unit_directory.get(unit_id)
        if unit is None or unit.kind not in self.supervisor_kinds:
            return Actor("unit", unit_id)
        return Actor(
            "supervisor",
            unit_id,
            CallerScope.of_supervisor(unit.level, unit.streets),
            level=unit.level,
        )

    def resident(self, ticket_id: str, token: str | None) -> Actor | None:
        if token and resident_token_valid(self.resident_secret, ticket_id, token):
            return Actor("resident", ticket_id)
        return None

    def open311_client(self, api_key: str | None) -> str | None:
        return self.open311.get(hash_api_key(api_key)) if api_key else None


def person_refused() -> ApiError:
    return ApiError(
        401,
        "person_token_invalid",
        "操作人凭证无效或已过期，请重新登录工作台后再试",
        "The console's person token is missing, forged or expired; log in to the console again",
    )
