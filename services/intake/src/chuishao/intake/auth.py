"""Who is asking: API keys (stored hashed) for units, operators and Open311 clients;
signed tokens for residents."""

from dataclasses import dataclass

from chuishao.common.kv import KvView
from chuishao.common.tokens import hash_api_key, resident_token_valid
from chuishao.common.units import UnitContact
from chuishao.intake.lifecycle import Actor
from chuishao.intake.scopes import Scope


@dataclass
class Keys:
    units: dict[str, str]
    operators: dict[str, str]
    open311: dict[str, str]
    unit_directory: KvView[UnitContact]
    supervisor_kinds: tuple[str, ...]
    resident_secret: str

    def actor(self, api_key: str | None) -> Actor | None:
        if not api_key:
            return None
        digest = hash_api_key(api_key)
        if (unit_id := self.units.get(digest)) is not None:
            return self.actor_for_unit(unit_id)
        if (operator := self.operators.get(digest)) is not None:
            return Actor("operator", operator)
        return None

    def actor_for_unit(self, unit_id: str) -> Actor:
        """A unit; a supervisor (command centre, district) with the place it answers for,
        from the router's directory. A unit not in the directory is an ordinary unit."""
        unit = self.unit_directory.get(unit_id)
        if unit is None or unit.kind not in self.supervisor_kinds:
            return Actor("unit", unit_id)
        return Actor("supervisor", unit_id, Scope.of_supervisor(unit.level, unit.streets))

    def resident(self, ticket_id: str, token: str | None) -> Actor | None:
        if token and resident_token_valid(self.resident_secret, ticket_id, token):
            return Actor("resident", ticket_id)
        return None

    def open311_client(self, api_key: str | None) -> str | None:
        return self.open311.get(hash_api_key(api_key)) if api_key else None
