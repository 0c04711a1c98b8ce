"""The trained triage model at run time: numpy only, no scikit-learn, no pickle.

The artefact (data/triage-model.json, written by `make triage-model`, see
triage_training.py) holds a linear model (an SVM, one-vs-rest) over character n-grams
(1–3) of the normalised text. A text's features are its distinct n-grams, each worth
1/sqrt(number of distinct n-grams in the text, known or not), so scoring is a gather
of the weight-matrix rows of the n-grams the vocabulary knows, a sum, the intercepts,
and a softmax at the calibrated temperature. Tiny weights were pruned (stored sparse)
and n-grams left with none dropped from the vocabulary: they still count in the length
normalisation, as in training.
"""

import base64
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT = 1
NONE = "none"  # the class of texts no category serves
DEFAULT_PATH = Path(__file__).parent / "data" / "triage-model.json"

Floats = npt.NDArray[np.float32]


class ModelError(ValueError):
    """The artefact is missing, of another format, or inconsistent."""


def ngrams(clean: str, low: int = 1, high: int = 3) -> set[str]:
    """The distinct character n-grams of an already normalised text."""
    return {
        clean[i : i + size] for size in range(low, high + 1) for i in range(len(clean) - size + 1)
    }


def _b64(array: npt.NDArray[Any], dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def encode_matrix(matrix: Floats) -> dict[str, Any]:
    """Sparse rows, little-endian, base64: `counts` (weights kept per row) uint8,
    `indices` (their class columns) uint8, `data` float16. Zeros (pruned) are not stored."""
    rows, cols = matrix.shape
    if cols > 255:
        raise ModelError("at most 255 classes fit the uint8 column index")
    mask = matrix != 0
    row_ids, col_ids = np.nonzero(mask)
    return {
        "shape": [int(rows), int(cols)],
        "counts": _b64(mask.sum(axis=1), "u1"),
        "indices": _b64(col_ids, "u1"),
        "data": _b64(matrix[row_ids, col_ids], "<f2"),
    }


def decode_matrix(encoded: dict[str, Any], rows: int, cols: int) -> Floats:
    if list(encoded["shape"]) != [rows, cols]:
        raise ModelError(f"weights of shape {encoded['shape']}, expected {rows}×{cols}")
    counts = np.frombuffer(base64.b64decode(encoded["counts"]), dtype="u1").astype(np.int64)
    indices = np.frombuffer(base64.b64decode(encoded["indices"]), dtype="u1")
    data = np.frombuffer(base64.b64decode(encoded["data"]), dtype="<f2")
    if counts.size != rows or counts.sum() != indices.size or indices.size != data.size:
        raise ModelError("the sparse weights are inconsistent")
    if indices.size and int(indices.max()) >= cols:
        raise ModelError("a weight names a class that does not exist")
    matrix = np.zeros((rows, cols), dtype=np.float32)
    row_ids = np.repeat(np.arange(rows), counts)
    matrix[row_ids, indices] = data
    return matrix


@dataclass(frozen=True)
class Ranked:
    """A class and its calibrated probability."""

    category: str
    confidence: float


@dataclass(frozen=True, eq=False)
class NgramModel:
    version: str
    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    weights: Floats  # rows: n-grams, columns: classes
    intercepts: Floats
    temperature: float
    threshold: float  # auto-route at or above this calibrated probability
    # A decisive keyword match that names the model's top class routes it from this
    # lower probability (chosen on the held-out folds too); None: no such rule.
    agree_threshold: float | None
    low: int = 1
    high: int = 3
    meta: dict[str, Any] | None = None
    # The danger model (danger.py asks it beside its lexicon): one weight per n-gram of
    # the same vocabulary, an intercept, and the score from which a text is a danger.
    danger_weights: Floats | None = None
    danger_intercept: float = 0.0
    danger_threshold: float | None = None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "NgramModel":
        if document.get("format") != FORMAT:
            raise ModelError(f"triage model format {document.get('format')!r}, expected {FORMAT}")
        classes = tuple(document["classes"])
        # The vocabulary is a list: an n-gram's position is its row of the weight matrix.
        grams = document["vocabulary"]
        vocabulary = {gram: row for row, gram in enumerate(grams)}
        rows = len(vocabulary)
        if rows != len(grams):
            raise ModelError("an n-gram is listed twice in the vocabulary")
        weights = decode_matrix(document["weights"], rows, len(classes))
        intercepts = np.asarray(document["intercepts"], dtype=np.float32)
        if intercepts.shape != (len(classes),):
            raise ModelError("one intercept per class expected")
        low, high = document["ngram_range"]
        agree = document.get("agree_threshold")
        danger = document.get("danger")
        danger_weights = None
        if danger is not None:
            danger_weights = decode_matrix(danger["weights"], rows, 1)[:, 0].copy()
        return cls(
            version=str(document["version"]),
            classes=classes,
            vocabulary=vocabulary,
            weights=weights,
            intercepts=intercepts,
            temperature=float(document["temperature"]),
            threshold=float(document["threshold"]),
            agree_threshold=None if agree is None else float(agree),
            low=int(low),
            high=int(high),
            meta=document.get("meta"),
            danger_weights=danger_weights,
            danger_intercept=float(danger["intercept"]) if danger else 0.0,
            danger_threshold=(
                float(danger["threshold"]) if danger and danger["threshold"] is not None else None
            ),
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> "NgramModel":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_json(document)
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise ModelError(f"{path}: {error}") from error

    def logits(self, clean: str) -> tuple[Floats, int]:
        """Raw class scores of an already normalised text (before the temperature), and
        how many of its n-grams the vocabulary knows."""
        grams = ngrams(clean, self.low, self.high)
        logits = self.intercepts.copy()
        known = self.vocabulary.get
        rows = [row for row in map(known, grams) if row is not None]
        if rows:
            scale = np.float32(1.0 / np.sqrt(len(grams)))
            logits += self.weights.take(rows, axis=0).sum(axis=0) * scale
        return logits, len(rows)

    def danger_score(self, clean: str) -> float | None:
        """The danger model's score of an already normalised text (None: no model)."""
        if self.danger_weights is None:
            return None
        grams = ngrams(clean, self.low, self.high)
        known = self.vocabulary.get
        rows = [row for row in map(known, grams) if row is not None]
        total = float(self.danger_weights.take(rows).sum()) if rows else 0.0
        return self.danger_intercept + total / float(np.sqrt(max(len(grams), 1)))

    def is_danger(self, clean: str) -> bool:
        score = self.danger_score(clean)
        return (
            score is not None
            and self.danger_threshold is not None
            and (score >= self.danger_threshold)
        )

    def scores(self, clean: str) -> tuple[Floats, int]:
        """Calibrated class probabilities, and how many n-grams the vocabulary knows."""
        logits, known = self.logits(clean)
        logits /= np.float32(self.temperature)
        logits -= logits.max()
        exp = np.exp(logits)
        result: Floats = exp / exp.sum()
        return result, known

    def probabilities(self, clean: str) -> Floats:
        return self.scores(clean)[0]

    def rank(self, clean: str) -> list[Ranked]:
        """Every class, most probable first (ties in class order, so the order is stable);
        empty when no n-gram of the text is known: nothing matches at all."""
        probs, known = self.scores(clean)
        if not known:
            return []
        order = np.argsort(-probs, kind="stable")
        return [Ranked(self.classes[i], float(probs[i])) for i in order]


@cache
def default_model() -> NgramModel | None:
    """The committed artefact, loaded once; None when it has not been trained yet."""
    if not DEFAULT_PATH.exists():
        return None
    return NgramModel.load(DEFAULT_PATH)
