"""What a category is (the catalogue's entries, Open311's `services`): types only, so the
domain cores can name them without reaching the bucket (`chuishao.common.catalogue`)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from chuishao.common.domain import CategoryCode, Priority


class Attribute(BaseModel):
    """An Open311 attribute definition."""

    model_config = ConfigDict(frozen=True)

    code: str
    datatype: Literal[
        "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"
    ] = "string"
    description: str
    required: bool = False
    datatype_description: str | None = None
    order: int = 1
    values: tuple[tuple[str, str], ...] = ()


class Category(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: CategoryCode
    name: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    default_priority: Priority = Priority.NORMAL
    attributes: tuple[Attribute, ...] = ()
