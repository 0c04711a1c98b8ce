"""The directory of units and the ops routing table, loaded from a versioned TOML file."""

import tomllib
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chuishao.common.domain import CategoryCode, Level, Priority, UnitId, Whistle


class DirectoryError(ValueError):
    """The directory file cannot be used; the message says where and why."""


class Unit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UnitId
    name: str
    kind: Literal["department", "community", "co_building", "command_centre", "district"]
    level: Level


class Route(BaseModel):
    """One row of the table plugin: a category and who handles it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: CategoryCode
    name: str
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    lead: UnitId
    co: tuple[UnitId, ...] = ()
    level: Level = Level.COMMUNITY
    whistle: Whistle = Whistle.DAILY
    priority: Priority = Priority.NORMAL


class Directory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    units: tuple[Unit, ...]
    routes: tuple[Route, ...] = ()

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        ids = [unit.id for unit in self.units]
        duplicates = sorted({unit_id for unit_id in ids if ids.count(unit_id) > 1})
        if duplicates:
            raise ValueError(f"duplicate unit ids: {', '.join(duplicates)}")
        known = set(ids)
        for route in self.routes:
            for unit_id in (route.lead, *route.co):
                if unit_id not in known:
                    raise ValueError(f"route {route.category!r} names unknown unit {unit_id!r}")
        return self

    def unit(self, unit_id: str) -> Unit:
        return next(unit for unit in self.units if unit.id == unit_id)

    @classmethod
    def load(cls, path: Path) -> "Directory":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise DirectoryError(f"{path}: {error}") from error
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise DirectoryError(f"{path}: {error}") from error
