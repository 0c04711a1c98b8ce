"""Open311 attribute definitions as the built-in plugins declare them (their `.toml`)."""

from typing import Any

from chuishao.common.categories import Attribute

YES_NO = (("yes", "是"), ("no", "否"))


def declared_attribute(entry: dict[str, Any], order: int) -> Attribute:
    """An attribute from its declaration. `order` is its place in the list (Open311 shows
    them in that order), so a declaration does not number them; `datatype = "yes_no"`
    stands for the yes/no list the categories share, so none spells out 是/否 again."""
    unknown = set(entry) - set(Attribute.model_fields)
    if unknown:  # Attribute would ignore them: a misspelt key must not drop a field
        raise ValueError(f"attribute {entry.get('code')!r}: unknown keys {sorted(unknown)}")
    if entry.get("datatype") == "yes_no":
        entry = {**entry, "datatype": "singlevaluelist", "values": YES_NO}
    return Attribute.model_validate({"order": order, **entry})
