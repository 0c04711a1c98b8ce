"""The monthly assessment (考核): a composite score from the rates, with the weights of a
policy file (data/assessment.toml), and the ranking of units or streets by it, compared
with the previous month. Pure: rates in, ranked rows out (docs/supervision.md, "The
monthly report")."""

import tomllib
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from chuishao.supervision.rates import DEFINITIONS, Rates

SCORE_DIGITS = 2  # the published score; ranks compare it, so equal-looking scores tie


class Ranking(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Fewer dispatched tickets in the month: listed, not ranked.
    minimum_dispatched: int = Field(default=1, ge=0)


class ProblemPolicy(BaseModel):
    """每月一题: how many reports of one category in one grid in a month make a recurring
    problem, and how many of them a street's list shows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    minimum_reports: int = Field(default=2, ge=1)
    per_street: int = Field(default=5, ge=1)


class AssessmentPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float]
    ranking: Ranking = Ranking()
    problems: ProblemPolicy = ProblemPolicy()

    @field_validator("weights")
    @classmethod
    def _known_positive(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(weights) - DEFINITIONS.keys())
        if unknown:
            raise ValueError(f"unknown rates {unknown}; known: {sorted(DEFINITIONS)}")
        negative = sorted(name for name, w in weights.items() if w < 0)
        if negative:
            raise ValueError(f"weights must not be negative: {negative}")
        if not any(w > 0 for w in weights.values()):
            raise ValueError("at least one weight must be above 0")
        return weights


def load_policy(path: Path | None = None) -> AssessmentPolicy:
    """The policy file at `path`, else the one shipped in the package."""
    if path is None:
        text = files("chuishao.supervision").joinpath("data/assessment.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return AssessmentPolicy.model_validate(tomllib.loads(text))


def score(rates: Rates, weights: Mapping[str, float]) -> float | None:
    """The weighted mean of the rates that are known, × 100 (0–100). A rate that is None
    is left out and the remaining weights renormalised; None when no weighted rate is
    known."""
    total = weighted = 0.0
    for name, weight in weights.items():
        value: float | None = getattr(rates, name)
        if value is None or weight <= 0:
            continue
        total += weight
        weighted += weight * value
    if total == 0:
        return None
    return round(100 * weighted / total, SCORE_DIGITS)


class RankedRow(BaseModel):
    """One unit or street of the report: its rates, score and place, this month and the
    month before."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    rates: Rates
    score: float | None
    rank: int | None  # None: not ranked (no score, or too few dispatched tickets)
    previous_score: float | None = None
    previous_rank: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rank_change(self) -> int | None:
        """Places gained since the month before (+2: from 5th to 3rd); None when it was
        not ranked in one of the two months."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank

    @computed_field  # type: ignore[prop-decorator]
    @property
    def score_change(self) -> float | None:
        if self.score is None or self.previous_score is None:
            return None
        return round(self.score - self.previous_score, SCORE_DIGITS)


def ranks(scores: Mapping[str, float | None]) -> dict[str, int]:
    """Competition ranking (1, 2, 2, 4) by score, highest first; ids without a score are
    not ranked."""
    ordered = sorted((s, key) for key, s in scores.items() if s is not None)
    ordered.reverse()
    result: dict[str, int] = {}
    previous: float | None = None
    place = 0
    for position, (value, key) in enumerate(ordered, start=1):
        if value != previous:
            place, previous = position, value
        result[key] = place
    return result


def eligible_scores(
    rows: Sequence[tuple[str, Rates]], policy: AssessmentPolicy
) -> dict[str, float | None]:
    minimum = policy.ranking.minimum_dispatched
    return {
        key: score(rates, policy.weights) if rates.count("dispatched") >= minimum else None
        for key, rates in rows
    }


def ranked(
    current: Sequence[tuple[str, str, Rates]],
    previous: Sequence[tuple[str, Rates]],
    policy: AssessmentPolicy,
) -> list[RankedRow]:
    """The rows of this month (id, name, rates), scored and ranked, with their score and
    rank of the month before; ranked rows first by rank, then the unranked by name."""
    now_scores = eligible_scores([(key, rates) for key, _, rates in current], policy)
    now_ranks = ranks(now_scores)
    then_ranks = ranks(eligible_scores(previous, policy))
    then_scores = {key: score(rates, policy.weights) for key, rates in previous}
    rows = [
        RankedRow(
            id=key,
            name=name,
            rates=rates,
            score=score(rates, policy.weights),
            rank=now_ranks.get(key),
            previous_score=then_scores.get(key),
            previous_rank=then_ranks.get(key),
        )
        for key, name, rates in current
    ]
    unranked = len(rows) + 1
    return sorted(rows, key=lambda r: (r.rank or unranked, r.name, r.id))
