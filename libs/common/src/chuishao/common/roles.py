"""The roles a person has in the console, and the one names intake and the later issues use.

A role comes with a scope: a `clerk` acts for one unit, a `command_centre` for one street, a
`district` for one district, `city` and `operator` everywhere, an `admin` manages accounts
(and sees no tickets).
"""

from enum import StrEnum


class PersonRole(StrEnum):
    CLERK = "clerk"
    COMMAND_CENTRE = "command_centre"
    DISTRICT = "district"
    CITY = "city"
    OPERATOR = "operator"
    ADMIN = "admin"


# What each role is called on screen.
ROLE_NAMES_ZH: dict[PersonRole, str] = {
    PersonRole.CLERK: "承办单位",
    PersonRole.COMMAND_CENTRE: "街道指挥中心",
    PersonRole.DISTRICT: "区级",
    PersonRole.CITY: "市级",
    PersonRole.OPERATOR: "12345 话务员",
    PersonRole.ADMIN: "管理员",
}

# The scope field each role needs (None: none).
SCOPE_FIELD: dict[PersonRole, str | None] = {
    PersonRole.CLERK: "unit",
    PersonRole.COMMAND_CENTRE: "street",
    PersonRole.DISTRICT: "district",
    PersonRole.CITY: None,
    PersonRole.OPERATOR: None,
    PersonRole.ADMIN: None,
}
