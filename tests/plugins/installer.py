"""Installs a plugin project from tests/plugins into a directory the way a wheel install
lays it out (the package, plus a dist-info with its entry points), then puts that
directory on sys.path: the router finds the plugin only through its entry point."""

import importlib
import shutil
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent


def install(project: str, site: Path) -> list[str]:
    """Returns the top-level packages installed."""
    root = HERE / project
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    packages = [path.name for path in (root / "src").iterdir() if path.is_dir()]
    for package in packages:
        shutil.copytree(root / "src" / package, site / package, dirs_exist_ok=True)
    dist = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n",
        encoding="utf-8",
    )
    groups = meta.get("entry-points", {})
    (dist / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
            for group, points in groups.items()
        ),
        encoding="utf-8",
    )
    return packages


@contextmanager
def installed(project: str, site: Path) -> Iterator[Path]:
    packages = install(project, site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[name]
        importlib.invalidate_caches()
