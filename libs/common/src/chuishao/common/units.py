"""The units' contact channels: written by the router from its directory, read by notify.
Webhook signing secrets are not here: they come from notify's settings. The type is in
`chuishao.common.unit_contacts` (no NATS there, so the domain cores can name it)."""

from chuishao.common.kv import ReadModel
from chuishao.common.unit_contacts import UnitContact

UNITS = ReadModel(
    "units",
    "Units and their delivery channels, from the router's directory",
    UnitContact,
    key=lambda unit: unit.id,
)
BUCKET = UNITS.config
publish_units = UNITS.publish
units_view = UNITS.view


__all__ = ["BUCKET", "UNITS", "UnitContact", "publish_units", "units_view"]
