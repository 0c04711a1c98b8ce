"""每月一题 (the problem of the month): for each street, the problems residents reported
again and again in one calendar month — category × grid — ranked by how many reports
(tickets and the reports linked to them) and how many repeat reporters (one pseudonym
reporting it more than once), with the change against the month before
(docs/supervision.md, "每月一题"). Read from the projection's `problem:` and
`problem_reporter:` counters (chuishao.supervision.counters); the ranking itself is pure.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from chuishao.supervision.assessment import ProblemPolicy
from chuishao.supervision.board import Reader


@dataclass(frozen=True)
class Tally:
    """One problem's month: its reports and its reporters' counts."""

    reports: int
    repeat_reporters: int


class ProblemRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    rank: int
    grid: str
    grid_name: str
    category: str
    category_name: str
    reports: int
    repeat_reporters: int
    previous_reports: int  # 0: none the month before
    previous_rank: int | None  # None: not a recurring problem the month before
    change: int  # reports − previous_reports


class StreetProblems(BaseModel):
    model_config = ConfigDict(frozen=True)

    street: str
    name: str
    rows: list[ProblemRow]


def tally(reports: int, reporters: Mapping[str, int]) -> Tally:
    return Tally(reports, sum(1 for n in reporters.values() if n > 1))


def ranking(
    tallies: Mapping[tuple[str, str], Tally], policy: ProblemPolicy
) -> list[tuple[str, str]]:
    """The (grid, category) of the recurring problems, first the most reported, then the
    most repeat reporters, then by code (a stable order for ties)."""
    eligible = [key for key, t in tallies.items() if t.reports >= policy.minimum_reports]
    return sorted(eligible, key=lambda k: (-tallies[k].reports, -tallies[k].repeat_reporters, k))


def street_problems(
    street: str,
    name: str,
    now: Mapping[tuple[str, str], Tally],
    before: Mapping[tuple[str, str], Tally],
    policy: ProblemPolicy,
    place_name: Callable[[str], str],
    category_names: Mapping[str, str],
) -> StreetProblems:
    earlier = {key: place for place, key in enumerate(ranking(before, policy), start=1)}
    rows = []
    for place, key in enumerate(ranking(now, policy)[: policy.per_street], start=1):
        grid, category = key
        previous = before.get(key)
        reports = now[key].reports
        rows.append(
            ProblemRow(
                rank=place,
                grid=grid,
                grid_name=place_name(grid),
                category=category,
                category_name=category_names.get(category, category),
                reports=reports,
                repeat_reporters=now[key].repeat_reporters,
                previous_reports=previous.reports if previous else 0,
                previous_rank=earlier.get(key),
                change=reports - (previous.reports if previous else 0),
            )
        )
    return StreetProblems(street=street, name=name, rows=rows)


async def tallies(
    reader: Reader, streets: Sequence[str] | None, month: str
) -> dict[str, dict[tuple[str, str], Tally]]:
    """street → (grid, category) → its month, for the streets asked (None: all)."""
    keys = []
    for value in await reader.values("problem"):
        street, grid, category = value.split("/", 2)
        if streets is None or street in streets:
            keys.append((street, grid, category))
    groups = [[f"problem:{'/'.join(k)}"] for k in keys]
    groups += [[f"problem_reporter:{'/'.join(k)}"] for k in keys]
    counted = await reader.counts_of(groups, month)
    result: dict[str, dict[tuple[str, str], Tally]] = {}
    for i, (street, grid, category) in enumerate(keys):
        reports = counted[i].get("reports", 0)
        if reports:
            result.setdefault(street, {})[(grid, category)] = tally(reports, counted[len(keys) + i])
    return result


async def monthly_problems(
    reader: Reader,
    streets: Sequence[str] | None,
    month: str,
    previous: str,
    policy: ProblemPolicy,
    place_name: Callable[[str], str],
    category_names: Mapping[str, str],
) -> list[StreetProblems]:
    """Each street of the scope with recurring problems this month, by street code."""
    now = await tallies(reader, streets, month)
    before = await tallies(reader, streets, previous)
    return [
        street_problems(
            street,
            place_name(street),
            now[street],
            before.get(street, {}),
            policy,
            place_name,
            category_names,
        )
        for street in sorted(now)
        if ranking(now[street], policy)
    ]
