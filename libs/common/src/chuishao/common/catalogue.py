"""The category catalogue: written by the router from its plugins, read by intake
(Open311 `services`, validation), so both see one source of truth. The types are in
`chuishao.common.categories` (no NATS there, so the domain cores can name them); they
are named here too for the bucket's readers and the plugins."""

from chuishao.common.categories import Attribute, Category
from chuishao.common.kv import ReadModel

CATALOGUE = ReadModel(
    "catalogue",
    "Categories served by the router's plugins",
    Category,
    key=lambda category: category.code,
)
BUCKET = CATALOGUE.config
publish_catalogue = CATALOGUE.publish
catalogue_view = CATALOGUE.view


__all__ = ["BUCKET", "CATALOGUE", "Attribute", "Category", "catalogue_view", "publish_catalogue"]
