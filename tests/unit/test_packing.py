"""The packing of values kept in Redis (chuishao.common.packing): every kind's frozen
dictionary is the one its digest names, a value packed with an older dictionary still
reads after a newer one is added, JSON stored before packing reads as it is, a value
from a newer version, one unpacked with another dictionary and one cut short are
refused instead of read wrong, and with packing off a service writes JSON."""

import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from chuishao.common import packing as packing_module
from chuishao.common.packing import Packing, UnknownPacking
from chuishao.intake.records import PACKING as INTAKE
from chuishao.router.state import PACKING as ROUTER
from chuishao.sla.decisions import PACKING as SLA
from chuishao.supervision.ticket import PACKING as SUPERVISION

TEXT = '{"ticket_id":"T20261203000001","status":"dispatched","description":"路灯不亮"}'


@pytest.mark.parametrize("packing", [INTAKE, SUPERVISION, SLA, ROUTER], ids=lambda p: p.kind)
def test_each_kind_reads_its_frozen_dictionaries(packing: Packing) -> None:
    assert packing.dictionaries  # read and checked against the digests
    packed = packing.pack(TEXT)
    assert packed[0] == packing.version
    assert packing.unpack(packed) == TEXT.encode()


def packing_in(folder: Path, *versions: int) -> Packing:
    digests = {}
    for version in versions:
        data = f'{{"version":{version},"status":"dispatched","whistle":"none"}}'.encode()
        (folder / f"{version}.dict").write_bytes(data)
        digests[version] = hashlib.sha256(data).hexdigest()
    return Packing("test", folder, digests)


def test_old_values_read_after_a_new_dictionary_and_json_reads_as_it_is(tmp_path: Path) -> None:
    old = packing_in(tmp_path, 1).pack(TEXT)
    both = packing_in(tmp_path, 1, 2)
    assert both.pack(TEXT)[0] == 2
    assert both.unpack(old) == TEXT.encode()
    assert both.unpack(TEXT.encode()) == TEXT.encode()
    assert both.unpack(TEXT) == TEXT


def test_a_newer_value_is_refused_by_name(tmp_path: Path) -> None:
    newer = packing_in(tmp_path, 1, 2).pack(TEXT)
    with pytest.raises(UnknownPacking, match="dictionary 2"):
        Packing("test", tmp_path, {1: packing_in(tmp_path, 1).digests[1]}).unpack(newer)


def test_a_changed_dictionary_is_refused(tmp_path: Path) -> None:
    packing = packing_in(tmp_path, 1)
    (tmp_path / "1.dict").write_bytes(b'{"changed":true}')
    with pytest.raises(ValueError, match="differs"):
        packing.pack(TEXT)


def test_a_version_byte_could_be_mistaken_for_json() -> None:
    with pytest.raises(ValueError, match=r"1\.\.122"):
        Packing("test", Path("."), {ord("{"): "0" * 64})


def test_another_dictionary_under_the_same_version_is_refused_not_misread(tmp_path: Path) -> None:
    """A dictionary changed together with its digest would otherwise unpack old values
    into other text: the zlib header names the dictionary (Adler-32) it needs."""
    first = tmp_path / "a"
    first.mkdir()
    packed = packing_in(first, 1).pack(TEXT)
    other = tmp_path / "b"
    other.mkdir()
    data = b'{"version":1,"status":"dispatched","whistle":"daily"}'
    (other / "1.dict").write_bytes(data)
    changed = Packing("test", other, {1: hashlib.sha256(data).hexdigest()})
    with pytest.raises(zlib.error):
        changed.unpack(packed)


def test_a_value_cut_short_is_refused(tmp_path: Path) -> None:
    packing = packing_in(tmp_path, 1)
    packed = packing.pack(TEXT)
    with pytest.raises(zlib.error):
        packing.unpack(packed[:-3])


@pytest.fixture
def packing_off() -> Iterator[None]:
    before = packing_module.packs()
    packing_module.configure(packed=False)
    try:
        yield
    finally:
        packing_module.configure(packed=before)


@pytest.mark.usefixtures("packing_off")
def test_with_packing_off_values_are_written_as_json_and_packed_ones_still_read(
    tmp_path: Path,
) -> None:
    """`CHUISHAO_PACKED_VALUES=false`, for an upgrade while older replicas still run."""
    packing = packing_in(tmp_path, 1)
    assert packing.pack(TEXT) == TEXT.encode()
    packing_module.configure(packed=True)
    packed = packing.pack(TEXT)
    packing_module.configure(packed=False)
    assert packing.unpack(packed) == TEXT.encode()


def test_every_kind_of_the_services_is_checked_at_start() -> None:
    kinds = {packing.kind for packing in packing_module._every}
    assert {"intake record", "supervision facts", "sla state", "router state"} <= kinds
    packing_module.check_dictionaries()  # the runtime's start-up step: every file is there
