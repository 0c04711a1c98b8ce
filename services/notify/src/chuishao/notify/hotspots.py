"""Hotspot warnings (预警) to the street's command centre.

Supervision raises `HotspotDetected` once per grid × category × window; notify delivers it
to the command-centre unit of the warning's street (the units bucket's `command_centre`
at street level whose streets include it), or, where a street has none, to the district
centre that answers for it. The unit hears it as any other unit delivery: the event on its
own subject (`dept.<unit>.hotspot.<ticket>`), and, by policy (`CHUISHAO_HOTSPOT_CHANNELS`),
its webhook and an SMS to its duty phone. Nothing of a resident is in it: the warning
carries only a grid, a category and counts.
"""

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

import structlog

from chuishao.common.categories import Category
from chuishao.common.domain import Level
from chuishao.common.events import Event, HotspotDetected
from chuishao.common.place_names import PlaceName, street_of
from chuishao.common.unit_contacts import UnitContact
from chuishao.notify.jobs import Notice
from chuishao.notify.settings import HotspotChannel

TEMPLATE = "hotspot"
log = structlog.get_logger()
Model_co = TypeVar("Model_co", covariant=True)


class Lookup(Protocol[Model_co]):
    """A read model's live copy (`chuishao.common.kv.KvView`), as far as this needs."""

    def get(self, key: str) -> Model_co | None: ...


class Listing(Lookup[Model_co], Protocol[Model_co]):
    def all(self) -> Sequence[Model_co]: ...


def street_of_warning(warning: HotspotDetected, places: Lookup[PlaceName]) -> str | None:
    """The warning's street; an older warning without one is placed by its grid."""
    return warning.street or street_of(places, warning.grid_code)


def centres(street: str | None, units: Iterable[UnitContact]) -> list[str]:
    """The street's command centre(s); else the district centre answering for it."""
    known = list(units)
    street_centres = [
        u.id
        for u in known
        if u.kind == "command_centre" and u.level == Level.STREET and street in u.streets
    ]
    if street_centres:
        return sorted(street_centres)
    # No centre of its own (or the street is unknown): the district answers for it.
    districts = [u for u in known if u.kind == "district"]
    serving = [u.id for u in districts if street is not None and street in u.streets]
    if serving:
        return sorted(serving)
    # No district names the street: the area's only district answers for everything in
    # it; of several, none can be told (each would read another district's warning).
    return [districts[0].id] if len(districts) == 1 else []


class HotspotWarnings:
    """Who hears a warning, and on which channels (the policy); the fan-out delivers."""

    def __init__(
        self,
        units: Listing[UnitContact],
        places: Lookup[PlaceName],
        channels: Sequence[HotspotChannel],
    ) -> None:
        self.units = units
        self.places = places
        self.channels = frozenset(channels)

    def notices(self, warning: HotspotDetected) -> list[Notice]:
        """A unit notice per centre (its subject; its webhook if the policy has `webhook`)
        and, if the policy has `sms`, a duty-phone notice. The fan-out skips a webhook or
        an SMS the unit has no address for, exactly as for other unit deliveries."""
        found: list[Notice] = []
        street = street_of_warning(warning, self.places)
        heard_by = centres(street, self.units.all())
        if not heard_by:  # said aloud: a warning nobody hears is a gap in the directory
            log.warning("hotspot_without_centre", grid=warning.grid_code, street=street)
        for unit_id in heard_by:
            found.append(_notice("unit", unit_id))
            if "sms" in self.channels:
                found.append(_notice("duty_phone", unit_id))
        return found

    def by_webhook(self, notice: Notice) -> bool:
        """Whether a unit notice may go to the unit's webhook (any other notice may)."""
        return notice.template != TEMPLATE or "webhook" in self.channels


def _notice(audience: str, unit_id: str) -> Notice:
    return Notice.model_validate({"audience": audience, "recipient": unit_id, "template": TEMPLATE})


class Words:
    """Names for the warning's message: 青石街道, not `qingshi`; 占道经营, not its code."""

    def __init__(self, places: Lookup[PlaceName], catalogue: Lookup[Category]) -> None:
        self.places = places
        self.catalogue = catalogue

    def place(self, code: str | None) -> str:
        place = self.places.get(code) if code else None
        return place.name if place is not None else (code or "")

    def variables(self, event: Event) -> dict[str, str | int]:
        """The template's words (and an SMS gateway template's parameters)."""
        if not isinstance(event, HotspotDetected):
            return {}
        category = self.catalogue.get(event.category)
        return {
            "street_name": self.place(street_of_warning(event, self.places)),
            "grid_name": self.place(event.grid_code),
            "category_name": category.name if category is not None else event.category,
            "count": event.count,
            "threshold": event.threshold,
            "window_label": window_label(event.window_seconds),
        }


def window_label(seconds: int) -> str:
    """近24小时, 近30分钟, 近7天."""
    minutes = max(seconds, 60) // 60
    if minutes >= 2 * 1440 and minutes % 1440 == 0:
        return f"近{minutes // 1440}天"
    if minutes % 60 == 0:
        return f"近{minutes // 60}小时"
    return f"近{minutes}分钟"
