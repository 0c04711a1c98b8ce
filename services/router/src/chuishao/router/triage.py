"""Free-text triage: a suggested category, with a confidence, for a report that came in
without one (hotline notes, snap-it text).

A weighted keyword classifier over the raw Chinese text. Keywords are matched as
substrings, longest first, so no word segmenter is needed and none can split a term the
vocabulary names (消防箱 stays one word). Confidence compares the best category's score
with the runner-up's, damped by a prior so that a single weak hint stays below the
threshold: confidence = best / (best + second + PRIOR).

ModelTriage puts the trained model (triage_model.py, `make triage-model`) in front: its
calibrated probability decides auto or manual at the threshold chosen on held-out folds
of the corpus, the keyword layer stays as a high-precision check (a decisive keyword match
that names the model's top class routes from a lower, also held-out-chosen, probability),
and the three best categories go with the ticket to the manual queue.

`python -m chuishao.router.triage --file FILE` classifies one text per line (triage_cli.py).
"""

import re
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.categories import Category
from chuishao.router import textnorm
from chuishao.router.triage_model import NONE, NgramModel, default_model

METHOD = "keywords-v1"
PRIOR = 1.0
# Weight of a catalogue keyword for a category the vocabulary file does not list.
DEFAULT_WEIGHT = 2.0
# A keyword suggestion at or above this confidence is decisive (the old auto threshold).
KEYWORD_DECISIVE = 0.72


class Alternative(BaseModel):
    """One of the categories shown to the dispatcher, with its probability."""

    model_config = ConfigDict(frozen=True)

    category: str
    confidence: float = Field(ge=0, le=1)


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: str | None
    confidence: float = Field(ge=0, le=1)
    method: str = METHOD
    matched: tuple[str, ...] = ()
    # The best three categories, best first (the model's; empty from keywords alone).
    suggestions: tuple[Alternative, ...] = ()
    # The model's own routing decision; None: the caller compares with its threshold.
    auto: bool | None = None


class Triage(Protocol):
    def classify(self, text: str) -> Suggestion: ...


class Vocabulary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    keywords: dict[str, dict[str, float]]

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        return cls.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))


def normalise(text: str) -> str:
    """Full-width forms to half-width, Traditional to Simplified, case folded, whitespace
    dropped (textnorm.py)."""
    return textnorm.normalise(text)


class KeywordTriage:
    def __init__(self, weights: dict[str, dict[str, float]]) -> None:
        # keyword → [(category, weight)]: one keyword may point at several categories.
        self._votes: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for category, words in weights.items():
            for word, weight in words.items():
                self._votes[normalise(word)].append((category, weight))
        words_longest_first = sorted(self._votes, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, words_longest_first)) or r"(?!)")
        self.categories = frozenset(weights)

    @classmethod
    def build(cls, vocabulary: Vocabulary, catalogue: list[Category]) -> "KeywordTriage":
        """The vocabulary for the catalogue's categories; catalogue keywords for the rest.
        Categories no plugin serves are dropped: triage must never suggest them."""
        served = {category.code: category for category in catalogue}
        weights = {code: words for code, words in vocabulary.keywords.items() if code in served}
        for code, category in served.items():
            if code not in weights and category.keywords:
                weights[code] = dict.fromkeys(category.keywords, DEFAULT_WEIGHT)
        return cls(weights)

    def classify(self, text: str) -> Suggestion:
        return self.classify_normalised(normalise(text))

    def classify_normalised(self, clean: str) -> Suggestion:
        matched = list(dict.fromkeys(m.group(0) for m in self._pattern.finditer(clean)))
        scores: dict[str, float] = defaultdict(float)
        for word in matched:
            for category, weight in self._votes[word]:
                scores[category] += weight
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        if not ranked or ranked[0][1] <= 0:
            return Suggestion(category=None, confidence=0.0, matched=tuple(matched))
        best, best_score = ranked[0]
        runner_up = max(ranked[1][1], 0.0) if len(ranked) > 1 else 0.0
        confidence = best_score / (best_score + runner_up + PRIOR)
        return Suggestion(category=best, confidence=round(confidence, 4), matched=tuple(matched))


class ModelTriage:
    """The trained model first, the keyword layer as a check; see the module docstring."""

    def __init__(
        self,
        model: NgramModel,
        keywords: KeywordTriage | None = None,
        served: frozenset[str] | None = None,
    ) -> None:
        self.model = model
        self.keywords = keywords
        # Categories no plugin serves are never suggested (the model may know more).
        self.served = served
        self.method = model.version
        self.threshold = model.threshold

    def _serves(self, category: str) -> bool:
        return self.served is None or category in self.served

    def classify(self, text: str) -> Suggestion:
        clean = normalise(text)
        ranked = self.model.rank(clean)
        real = [r for r in ranked if r.category != NONE and self._serves(r.category)]
        keywords = self.keywords
        keyword = keywords.classify_normalised(clean) if keywords is not None else None
        matched = keyword.matched if keyword is not None else ()
        if not real:
            return Suggestion(
                category=None, confidence=0.0, method=self.method, matched=matched, auto=False
            )
        best = real[0]
        # Auto only when the model's overall best is this category (not `none`, not a
        # category nobody serves) and it is sure enough, or nearly so with a decisive
        # keyword match for the same category.
        agree = self.model.agree_threshold
        decisive = keyword is not None and keyword.confidence >= KEYWORD_DECISIVE
        auto = ranked[0].category == best.category and (
            best.confidence >= self.threshold
            or (
                agree is not None
                and decisive
                and keyword is not None
                and keyword.category == best.category
                and best.confidence >= agree
            )
        )
        return Suggestion(
            category=best.category,
            confidence=round(best.confidence, 4),
            method=self.method,
            matched=matched,
            suggestions=tuple(
                Alternative(category=r.category, confidence=round(r.confidence, 4))
                for r in real[:3]
            ),
            auto=auto,
        )


def build_triage(
    vocabulary: Vocabulary, catalogue: list[Category], model: NgramModel | None = None
) -> Triage:
    """The model behind the keyword layer when an artefact exists, keywords alone if not."""
    keywords = KeywordTriage.build(vocabulary, catalogue)
    model = model or default_model()
    if model is None:
        return keywords
    return ModelTriage(model, keywords, frozenset(c.code for c in catalogue))


if __name__ == "__main__":
    from chuishao.router.triage_cli import main

    raise SystemExit(main())
