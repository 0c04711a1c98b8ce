"""Free-text triage: a suggested category, with a confidence, for a report that came in
without one (hotline notes, snap-it text).

A weighted keyword classifier over the raw Chinese text. Keywords are matched as
substrings, longest first, so no word segmenter is needed and none can split a term the
vocabulary names (消防箱 stays one word). Confidence compares the best category's score
with the runner-up's, damped by a prior so that a single weak hint stays below the
threshold: confidence = best / (best + second + PRIOR).
"""

import re
import tomllib
import unicodedata
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from chuishao.common.catalogue import Category

METHOD = "keywords-v1"
PRIOR = 1.0
# Weight of a catalogue keyword for a category the vocabulary file does not list.
DEFAULT_WEIGHT = 2.0


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: str | None
    confidence: float = Field(ge=0, le=1)
    method: str = METHOD
    matched: tuple[str, ...] = ()


class Vocabulary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    keywords: dict[str, dict[str, float]]

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        return cls.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))


def normalise(text: str) -> str:
    """Full-width forms to half-width, case folded, whitespace dropped."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


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
        matched = list(dict.fromkeys(m.group(0) for m in self._pattern.finditer(normalise(text))))
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
