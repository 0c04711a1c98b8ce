"""The places' names and nesting (city → district → street → community → grid): written by
the router from its directory, read by supervision, so pages show 青石街道 rather than
`qingshi` and a street's command centre sees only its own street. The types are in
`chuishao.common.place_names` (no NATS there, so the domain cores can name them)."""

from chuishao.common.kv import ReadModel
from chuishao.common.place_names import PlaceKind, PlaceName

PLACES = ReadModel(
    "places",
    "Places of the router's directory: name, kind and the place containing it",
    PlaceName,
    key=lambda place: place.code,
)
BUCKET = PLACES.config
publish_places = PLACES.publish
places_view = PLACES.view


__all__ = ["BUCKET", "PLACES", "PlaceKind", "PlaceName", "places_view", "publish_places"]
