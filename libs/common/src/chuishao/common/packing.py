"""Records kept in Redis, packed: DEFLATE with a preset dictionary per kind of record.

Memory is what runs out first when a city keeps its open tickets in Redis
(docs/scaling.md, "A city at its peak"), and a record is mostly the same field names and
values from one ticket to the next. Compressed alone a record shrinks by half (the
names repeat only once inside it); with a dictionary of what records have in common, the
DEFLATE stream refers back into it from the first byte, and a record keeps about a third
of its JSON (docs/benchmarks.md, "A whole city", change 9).

A packed value is its dictionary's version (one byte, below `{`) and a zlib stream: its
header names the dictionary it needs (its Adler-32) and its trailer checks the data, so
a value unpacked with another dictionary than it was packed with, or cut short, is
refused instead of read wrong. A dictionary is frozen once values are packed with it:
its SHA-256 is checked when it is loaded. A value that starts with `{` is JSON stored
before packing, read as it is.

Upgrades (docs/scaling.md, "Packed values"): a version only writes what every running
replica can read. With `CHUISHAO_PACKED_VALUES=false` a service reads packed values and
JSON but writes JSON; a new dictionary (a new version beside the old, which stay
readable) is written only once every replica has it, by turning packing on again.
"""

import functools
import hashlib
import zlib
from pathlib import Path
from typing import ClassVar, Self, cast

from pydantic import BaseModel

JSON_START = ord("{")
_LEVEL = 6  # level 9 packs 3 % smaller at twice the time

_write_packed = True  # the service's setting `packed_values` (configure)
_every: list["Packing"] = []


class UnknownPacking(ValueError):
    """A value packed with a dictionary this version does not have (written by a newer
    version of the service): upgrade before reading it."""


def configure(*, packed: bool) -> None:
    """Whether this process packs what it writes (it always reads both): the setting
    `packed_values`, applied by the runtime at start."""
    global _write_packed  # noqa: PLW0603 - one process-wide choice, set once at start
    _write_packed = packed


def packs() -> bool:
    """Whether this process packs what it writes (`configure`)."""
    return _write_packed


def registered(packing: "Packing") -> "Packing":
    """A service's kind, checked at its start by `check_dictionaries`."""
    _every.append(packing)
    return packing


def check_dictionaries() -> None:
    """Read and check every kind's dictionaries now: a missing or changed file stops the
    service at start rather than failing its first write (the runtime calls this)."""
    for packing in _every:
        _ = packing.dictionaries


class Packing:
    """One kind of record's dictionaries by version; values are written with the newest.

    The dictionaries `<folder>/<version>.dict` are read when first needed (or at start,
    `check_dictionaries`) and each checked against its SHA-256."""

    def __init__(self, kind: str, folder: Path, digests: dict[int, str]) -> None:
        for version in digests:
            if not 0 < version < JSON_START:
                raise ValueError(f"{kind}: dictionary version {version} is not in 1..122")
        self.kind = kind
        self.folder = folder
        self.digests = digests
        self.version = max(digests)

    @functools.cached_property
    def dictionaries(self) -> dict[int, bytes]:
        dictionaries = {}
        for version, digest in self.digests.items():
            data = (self.folder / f"{version}.dict").read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise ValueError(
                    f"{self.kind}: dictionary {version} differs from the one values were "
                    "packed with; add a new version instead of changing it"
                )
            dictionaries[version] = data
        return dictionaries

    @functools.cached_property
    def _primed(self) -> "tuple[zlib._Compress, dict[int, zlib._Decompress]]":
        """A packer and an unpacker per version with their dictionary already set, copied
        for each value: setting a dictionary hashes all of it (27 → 16 µs a pack)."""
        packer = zlib.compressobj(_LEVEL, zdict=self.dictionaries[self.version])
        unpackers = {v: zlib.decompressobj(zdict=d) for v, d in self.dictionaries.items()}
        return packer, unpackers

    def pack(self, text: str) -> bytes:
        """What Redis keeps of `text`: packed, or the JSON itself while packing is off."""
        if not _write_packed:
            return text.encode()
        packer = self._primed[0].copy()
        return bytes((self.version,)) + packer.compress(text.encode()) + packer.flush()

    def unpack(self, raw: bytes | str) -> bytes | str:
        """The JSON of a stored value, packed or not."""
        if isinstance(raw, str) or not raw or raw[0] == JSON_START:
            return raw
        primed = self._primed[1].get(raw[0])
        if primed is None:
            raise UnknownPacking(
                f"{self.kind}: packed with dictionary {raw[0]}, which this version does not "
                "have (written by a newer version)"
            )
        unpacker = primed.copy()
        text = unpacker.decompress(raw[1:]) + unpacker.flush()
        if not unpacker.eof:
            raise zlib.error(f"{self.kind}: a packed value cut short")
        return text


class PackedValue:
    """What a pydantic model Redis keeps packed inherits (beside `BaseModel`): its
    `packing` names the kind; `stored()` to write it, `from_stored()` to read it."""

    packing: ClassVar[Packing]

    def stored_json(self) -> str:
        """The JSON that is packed: without the fields at their default, which read back
        the same (a quarter fewer bytes). A model whose defaults carry meaning (a
        discriminator) overrides this with the full JSON."""
        return cast("BaseModel", self).model_dump_json(exclude_defaults=True)

    def stored(self) -> bytes:
        return self.packing.pack(self.stored_json())

    @classmethod
    def from_stored(cls, raw: bytes | str) -> Self:
        """A value as Redis keeps it, packed or (stored before packing) JSON."""
        model = cast("type[BaseModel]", cls)
        return cast("Self", model.model_validate_json(cls.packing.unpack(raw)))
