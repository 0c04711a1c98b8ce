"""Probe from outside (ADV) of who hears a hotspot warning: in a city of two districts, a
warning whose street no district answers for (unknown, or outside every district's
streets) must not go to every district centre: one district would read another's."""

from chuishao.common.units import UnitContact
from chuishao.notify.hotspots import centres
from support.intake import district_centre


def district(unit_id: str, *streets: str) -> UnitContact:
    return district_centre(unit_id, unit_id, *streets, coverage=(unit_id,))


YUNXI = district("district-yunxi", "qingshi", "liuan")
DONGCHENG = district("district-dongcheng", "andingmen")


def test_a_warning_no_district_answers_for_goes_to_no_district_of_several() -> None:
    assert centres("andingmen", [YUNXI, DONGCHENG]) == ["district-dongcheng"]
    assert centres(None, [YUNXI, DONGCHENG]) == []
    assert centres("nowhere", [YUNXI, DONGCHENG]) == []
    # One district: it answers for every street of the area, known or not.
    assert centres(None, [YUNXI]) == ["district-yunxi"]
    assert centres("nowhere", [YUNXI]) == ["district-yunxi"]
