"""The category catalogue: written by the router from its plugins, read by intake
(Open311 `services`, validation), so both see one source of truth."""

from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from pydantic import BaseModel, ConfigDict

from chuishao.common.domain import CategoryCode, Priority
from chuishao.common.kv import KvView, publish_all

BUCKET = KeyValueConfig(
    bucket="catalogue",
    description="Categories served by the router's plugins",
    history=1,
    storage=StorageType.FILE,
)


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


async def publish_catalogue(js: JetStreamContext, categories: list[Category]) -> None:
    await publish_all(js, BUCKET, {category.code: category for category in categories})


def catalogue_view() -> KvView[Category]:
    return KvView(BUCKET, Category)
