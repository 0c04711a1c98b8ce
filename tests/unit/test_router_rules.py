from pathlib import Path

import pytest

from chuishao.common.domain import Priority, Whistle
from chuishao.router.directory import Directory, DirectoryError
from chuishao.router.plugins_manager import Dispatcher, plugin_manager
from chuishao.router.settings import RouterSettings
from support.factories import submitted

UNITS = """
version = 3
[[units]]
id = "grid-a"
name = "A 网格站"
kind = "community"
level = "community"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_directory_loads() -> None:
    directory = Directory.load(RouterSettings().directory_file)
    assert directory.version >= 1
    assert any(route.category == "fire_box" for route in directory.routes)


def test_the_table_plugin_is_found_through_its_entry_point() -> None:
    manager = plugin_manager()
    assert "table" in {name for name, _ in manager.list_name_plugin()}


def test_a_routed_category_names_its_lead_unit() -> None:
    dispatcher = Dispatcher(plugin_manager(), Directory.load(RouterSettings().directory_file))
    decision = dispatcher.decide(submitted())
    assert decision is not None
    assert decision.lead == "grid-heyuan"
    assert decision.whistle == Whistle.DAILY
    assert decision.priority == Priority.NORMAL


def test_an_unplaced_category_gets_no_decision(tmp_path: Path) -> None:
    dispatcher = Dispatcher(plugin_manager(), Directory.load(write(tmp_path, UNITS)))
    assert dispatcher.decide(submitted()) is None
    assert dispatcher.categories() == []


def test_the_catalogue_comes_from_the_plugins() -> None:
    dispatcher = Dispatcher(plugin_manager(), Directory.load(RouterSettings().directory_file))
    codes = [category.code for category in dispatcher.categories()]
    assert "fire_box" in codes
    assert codes == sorted(codes)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (UNITS.split("version = 3")[1], "duplicate unit ids: grid-a"),
        ('[[routes]]\ncategory = "x"\nname = "X"\nlead = "nobody"\n', "unknown unit 'nobody'"),
        ('[[routes]]\ncategory = "x"\nname = "X"\n', "lead"),
    ],
)
def test_a_bad_directory_says_what_is_wrong(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(DirectoryError, match=message):
        Directory.load(write(tmp_path, UNITS + extra))


def test_a_directory_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match=r"directory\.toml"):
        Directory.load(write(tmp_path, "version = = 1"))
