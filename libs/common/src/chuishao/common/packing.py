"""Records kept in Redis, packed: raw DEFLATE with a preset dictionary per kind of record.

Memory is what runs out first when a city keeps its open tickets in Redis
(docs/scaling.md, "A city at its peak"), and a record is mostly the same field names and
values from one ticket to the next. Compressed alone a record shrinks by half (the
names repeat only once inside it); with a dictionary of what records have in common, the
DEFLATE stream refers back into it from the first byte, and a record keeps about a third
of its JSON (docs/benchmarks.md, "A whole city"). A dictionary is frozen once records are
written with it: its SHA-256 is checked when it is loaded, and a new one is a new
version, written beside the old, which stays readable.

A packed value starts with its dictionary's version, a byte below `{`; a value that
starts with `{` is JSON stored before packing, read as it is: no migration. The other
way does not hold: a version from before packing cannot read a packed value, so the
replicas of a service are upgraded together, and going back means rebuilding its Redis
from the streams (docs/scaling.md, "Packed values").
"""

import functools
import hashlib
import zlib
from pathlib import Path

JSON_START = ord("{")
_WBITS = -15  # raw DEFLATE: no zlib header or checksum (the model validates what it reads)
_LEVEL = 6  # level 9 packs 3 % smaller at twice the time


class UnknownPacking(ValueError):
    """A value packed with a dictionary this version does not have (written by a newer
    version of the service): upgrade before reading it."""


class Packing:
    """One kind of record's dictionaries by version; values are written with the newest.

    The dictionaries `<folder>/<version>.dict` are read on first use and each checked
    against its SHA-256: a dictionary changed after records were packed with it would
    read them wrong (tests/unit/test_packing.py reads every kind's)."""

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

    def pack(self, text: str) -> bytes:
        packer = zlib.compressobj(
            _LEVEL, zlib.DEFLATED, _WBITS, zdict=self.dictionaries[self.version]
        )
        return bytes((self.version,)) + packer.compress(text.encode()) + packer.flush()

    def unpack(self, raw: bytes | str) -> bytes | str:
        """The JSON of a stored value, packed or not."""
        if isinstance(raw, str) or not raw or raw[0] == JSON_START:
            return raw
        dictionary = self.dictionaries.get(raw[0])
        if dictionary is None:
            raise UnknownPacking(
                f"{self.kind}: packed with dictionary {raw[0]}, which this version does not "
                "have (written by a newer version)"
            )
        unpacker = zlib.decompressobj(_WBITS, zdict=dictionary)
        return unpacker.decompress(raw[1:]) + unpacker.flush()
