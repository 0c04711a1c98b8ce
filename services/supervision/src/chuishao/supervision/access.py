"""Who may read the board, and what of it: every read path needs a credential, and each
credential sees its own place only.

* A supervisor's API key (the key intake accepts for a unit whose kind is in
  `supervisor_kinds`: street command centres, the district centre, the city's): the places
  the unit covers in the router's directory.
* A display token (`python -m chuishao.supervision.display`): one street or one district.

The credential comes in `X-API-Key`, `Authorization: Bearer`, or the HttpOnly cookie the
page sets when a wall screen opens `/?token=…` or someone signs in on the form.
"""

from collections.abc import Collection
from dataclasses import dataclass

from fastapi import Request

from chuishao.common.errors import ApiError
from chuishao.common.kv import KvView
from chuishao.common.place_names import PlaceName
from chuishao.common.tokens import hash_api_key
from chuishao.common.unit_contacts import UnitContact
from chuishao.supervision.display import DisplayTokens

COOKIE = "chuishao_board"


@dataclass(frozen=True)
class ViewerScope:
    """What a viewer may see: everything (the city, or the district of a one-district
    city, which then includes tickets not yet placed in a street), or some streets."""

    label: str  # 京海市, 云溪区, 青石街道: shown on the board
    everything: bool
    streets: frozenset[str] = frozenset()

    def has_street(self, street: str | None) -> bool:
        return self.everything or (street is not None and street in self.streets)

    def visible_streets(self, known: Collection[str]) -> list[str]:
        return sorted(known if self.everything else self.streets)


def unauthorised() -> ApiError:
    return ApiError(
        401,
        "credential_required",
        "请先登录：在请求头 X-API-Key 或 Authorization: Bearer 中"
        "给出指挥中心的 API 密钥或大屏令牌；大屏在浏览器中打开 /?token=… 即可。",
        "Sign in: send a command centre's API key or a display token in X-API-Key or "
        "Authorization: Bearer; a wall screen opens /?token=… in its browser.",
        headers={"WWW-Authenticate": 'Bearer realm="supervision"'},
    )


def out_of_scope(street: str) -> ApiError:
    return ApiError(
        403,
        "street_not_in_scope",
        f"您的凭证不能查看街道 {street}：只能查看本辖区。",
        f"Your credential does not cover street {street}: only your own area.",
        field="street",
    )


@dataclass
class Access:
    unit_keys: dict[str, str]  # SHA-256 of the key → unit id
    supervisor_kinds: tuple[str, ...]
    units: KvView[UnitContact]
    places: KvView[PlaceName]
    displays: DisplayTokens

    # --- places

    def streets_of(self, district: str) -> frozenset[str]:
        return frozenset(
            p.code for p in self.places.all() if p.kind == "street" and p.parent == district
        )

    def known_streets(self) -> list[str]:
        return [p.code for p in self.places.all() if p.kind == "street"]

    def name(self, code: str) -> str:
        place = self.places.get(code)
        return place.name if place is not None else code

    def place_scope(self, codes: Collection[str]) -> ViewerScope | None:
        """The scope of places named by code (a unit's coverage, a token's place)."""
        streets: set[str] = set()
        labels = []
        for code in codes:
            place = self.places.get(code)
            if place is None:
                continue
            labels.append(place.name)
            if place.kind == "city":
                return ViewerScope(label=place.name, everything=True)
            if place.kind == "district":
                districts = [p for p in self.places.all() if p.kind == "district"]
                if len(districts) == 1:  # the whole city is this district
                    return ViewerScope(label=place.name, everything=True)
                streets |= self.streets_of(code)
            elif place.kind == "street":
                streets.add(code)
        if not streets:
            return None
        return ViewerScope(label="、".join(labels), everything=False, streets=frozenset(streets))

    # --- credentials

    async def scope_of(self, credential: str | None) -> ViewerScope | None:
        """The credential's scope; None when it is no credential of ours."""
        if not credential:
            return None
        grant = await self.displays.lookup(credential)
        if grant is not None:
            return self._known(self.place_scope([grant.place]))
        unit_id = self.unit_keys.get(hash_api_key(credential))
        if unit_id is None:
            return None
        unit = self.units.get(unit_id)
        if unit is None and not self.units.all():
            raise _not_loaded()
        if unit is None or unit.kind not in self.supervisor_kinds:
            raise ApiError(
                403,
                "not_a_supervisor",
                "只有指挥中心（街道、区、市）的密钥可以查看督办看板。",
                "Only a command centre's key (street, district, city) may read the board.",
            )
        return self._known(self.place_scope(unit.coverage))

    def _known(self, scope: ViewerScope | None) -> ViewerScope:
        if scope is not None:
            return scope
        if not self.places.all():
            raise _not_loaded()
        raise ApiError(
            403,
            "no_known_place",
            "该凭证对应的辖区不在目录中：请联系管理员。",
            "The credential's place is not in the directory: ask an administrator.",
        )


def _not_loaded() -> ApiError:
    return ApiError(
        503,
        "directory_not_loaded",
        "单位和辖区目录尚未加载，请稍后再试。",
        "The directory of units and places is not loaded yet; try again shortly.",
        headers={"Retry-After": "2"},
    )


def credential_of(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE)


def narrowed(access: Access, scope: ViewerScope, street: str | None) -> ViewerScope:
    """`?street=<code>`: one street of the viewer's scope."""
    if not street:
        return scope
    if not scope.has_street(street):
        raise out_of_scope(street)
    return ViewerScope(label=access.name(street), everything=False, streets=frozenset({street}))
