"""The console's map: the directory's street and grid outlines with pins for tickets,
drawn offline by `chuishao.common.svgmap` (shared with supervision's big screen) and
marked safe for the console's templates. The ticket page draws one pin; the command
centre's queue many."""

from collections.abc import Iterable, Sequence

from markupsafe import Markup

from chuishao.common.places import PlaceName
from chuishao.common.svgmap import Pin, where
from chuishao.common.svgmap import svg_map as _svg_map


def svg_map(
    places: Iterable[PlaceName],
    pins: Sequence[Pin] = (),
    *,
    street: str | None = None,
    title: str = "位置示意图",
    picker: bool = False,
) -> Markup:
    """The streets (named) and grids of the directory with `pins`; `street` is shaded as
    the ticket's own. Empty markup when the directory has no outlines at all. A `picker`
    carries its projection, so a tap can be turned back into a point (resident.js)."""
    drawn = _svg_map(places, pins, street=street, title=title, picker=picker)
    # Every name and code in it went through escape() in svgmap; the numbers are its own.
    return Markup(drawn)  # noqa: S704


__all__ = ["Pin", "svg_map", "where"]
