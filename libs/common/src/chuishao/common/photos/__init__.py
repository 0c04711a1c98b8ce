"""The photo store (docs/console.md, "The photo store"): uploads accepted by content,
made safe (EXIF stripped, orientation applied), thumbnailed, hashed, kept in the JetStream
object store and indexed by ticket and by content."""

from chuishao.common.photos.images import Limits, Normalised, normalise
from chuishao.common.photos.store import (
    PHOTO_PATH,
    PhotoMeta,
    PhotoStore,
    Purpose,
    is_photo_id,
    new_photo_id,
    photo_in,
    reuse_of,
)

__all__ = [
    "PHOTO_PATH",
    "Limits",
    "Normalised",
    "PhotoMeta",
    "PhotoStore",
    "Purpose",
    "is_photo_id",
    "new_photo_id",
    "normalise",
    "photo_in",
    "reuse_of",
]
