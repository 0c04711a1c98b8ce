"""Open311 attribute definitions as the built-in plugins declare them (their `.toml`)."""

from typing import Any

from pydantic import BaseModel

from chuishao.common.categories import Attribute

YES_NO = (("yes", "是"), ("no", "否"))


def refuse_unknown(entry: dict[str, Any], model: type[BaseModel], what: str) -> None:
    """The model would ignore keys it does not know: a misspelt one in a declaration must
    stop the start-up (PluginError) rather than drop a field unseen."""
    unknown = set(entry) - set(model.model_fields)
    if unknown:
        raise ValueError(f"{what} {entry.get('code')!r}: unknown keys {sorted(unknown)}")


def declared_attribute(entry: dict[str, Any], order: int) -> Attribute:
    """An attribute from its declaration. `order` is its place in the list (Open311 shows
    them in that order), so a declaration does not number them; `datatype = "yes_no"`
    stands for the yes/no list the categories share, so none spells out 是/否 again."""
    refuse_unknown(entry, Attribute, "attribute")
    if entry.get("datatype") == "yes_no":
        entry = {**entry, "datatype": "singlevaluelist", "values": YES_NO}
    return Attribute.model_validate({"order": order, **entry})
