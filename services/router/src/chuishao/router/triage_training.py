"""Train the triage model: `make triage-model` (EXTRA=path adds dispatcher examples).

    python -m chuishao.router.triage_training [--extra FILE ...] [--out PATH]

Reads every triage/corpus/*.tsv (sorted), normalises, drops repeated texts, and fits a
linear SVM (scikit-learn's LinearSVC, one-vs-rest) over character 1–3-gram features.
Calibration and thresholds come from held-out predictions: the corpus is cut into 5
stratified folds with a fixed seed, and each fold is predicted by a model fitted on the
other four — pruned and stored exactly as the router will run it — so every text is a
validation text once and no threshold sees a text its model was fitted on. On those
predictions the training picks C, fits the softmax temperature (the calibration), the
auto-route threshold for ≥ 97 % precision, and the lower threshold at which a decisive
keyword match that agrees may route. The shipped model is then fitted on the whole
corpus with that C. The danger model (a logistic regression on the danger column) also
reads the danger-only texts — corpus/danger-only/*.tsv and dev/danger-*.tsv — which never
train the categories (`--no-danger-only` leaves them out). Writes data/triage-model.json:
no pickle, versioned by the hash of the corpus, the danger-only texts and the settings.

scikit-learn is a training dependency only (the `triage` dependency group); the router
reads the JSON with numpy (triage_model.py).
"""

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from chuishao.router.danger import kinds_of
from chuishao.router.textnorm import normalise
from chuishao.router.triage import KEYWORD_DECISIVE, KeywordTriage, Vocabulary
from chuishao.router.triage_corpus import CORPUS_DIR, Row, corpus_files, fingerprint, read_rows
from chuishao.router.triage_model import (
    DEFAULT_PATH,
    FORMAT,
    NONE,
    NgramModel,
    encode_matrix,
    ngrams,
)

SEED = 20261202
VALIDATION_SHARE = 0.2
NGRAM_RANGE = (1, 3)
MIN_DF = 2  # an n-gram seen in one training text only is noise
C_GRID = (1.0, 2.0, 4.0)
FOLDS = 5
PRUNE_BELOW = 0.05  # smaller weights are not stored (measured: no loss on validation)
DANGER_C = 1.0
DANGER_FALSE_ALARMS = 0.035  # lexicon and model together, of the calm texts (target ≤ 5 %)
TARGET_PRECISION = 0.97
TRIAGE_TOML = Path(__file__).parent / "data" / "triage.toml"
# Texts labelled for the danger detector only: the danger test sets already measured
# (copied into corpus/danger-only/) and the detector's development sets (dev/danger-*.tsv).
# Their categories were written by different hands under different rules (a crime in
# progress is `none` in one set, `emergency_hazard` in another; near misses are labelled
# loosely), so they train the danger model and never the categories or their thresholds.
DANGER_ONLY_DIR = CORPUS_DIR / "danger-only"
DANGER_DEV_DIR = CORPUS_DIR.parent / "dev"


def danger_only_files() -> list[Path]:
    return sorted(DANGER_ONLY_DIR.glob("*.tsv")) + sorted(DANGER_DEV_DIR.glob("danger-*.tsv"))


def load_rows(paths: list[Path]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    problems: list[str] = []
    for path in paths:
        found, bad = read_rows(path)
        rows.extend(found)
        problems.extend(bad)
    return rows, problems


def dedupe(rows: list[Row]) -> tuple[list[tuple[str, Row]], int]:
    """(normalised text, row) once per normalised text: the first file's label wins."""
    seen: dict[str, Row] = {}
    for row in rows:
        seen.setdefault(normalise(row.text), row)
    return list(seen.items()), len(rows) - len(seen)


def build_vocabulary(texts: list[str]) -> dict[str, int]:
    df: Counter[str] = Counter()
    for text in texts:
        df.update(ngrams(text, *NGRAM_RANGE))
    kept = sorted(gram for gram, count in df.items() if count >= MIN_DF)
    return {gram: row for row, gram in enumerate(kept)}


def features(texts: list[str], vocabulary: dict[str, int]) -> Any:
    """The same features triage_model.py computes: 1/sqrt(distinct n-grams of the text)
    on each known n-gram (a scipy CSR matrix)."""
    from scipy.sparse import csr_matrix  # noqa: PLC0415 (training only)

    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        grams = ngrams(text, *NGRAM_RANGE)
        scale = 1.0 / math.sqrt(len(grams)) if grams else 0.0
        rows = sorted(vocabulary[g] for g in grams if g in vocabulary)
        indices.extend(rows)
        values.extend([scale] * len(rows))
        indptr.append(len(indices))
    return csr_matrix(
        (np.asarray(values), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(texts), len(vocabulary)),
    )


def softmax(logits: np.ndarray[Any, Any], temperature: float) -> np.ndarray[Any, Any]:
    scaled = logits / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    result: np.ndarray[Any, Any] = exp / exp.sum(axis=1, keepdims=True)
    return result


def fit_temperature(logits: np.ndarray[Any, Any], gold: np.ndarray[Any, Any]) -> float:
    """The temperature that minimises the validation log-loss (a 1-D grid, then finer)."""

    def nll(t: float) -> float:
        probs = softmax(logits, t)
        return float(-np.log(probs[np.arange(len(gold)), gold] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.01), np.log(20.0), 161))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return round(float(min(fine, key=nll)), 4)


def pick_threshold(
    confidence: list[float], correct: list[bool], target: float = TARGET_PRECISION
) -> float:
    """The lowest threshold whose auto-routed set (confidence ≥ it) keeps precision ≥ target:
    walk down from the most confident and keep the deepest point that still meets it."""
    order = sorted(range(len(confidence)), key=lambda i: -confidence[i])
    hits = 0
    best: float | None = None
    for k, i in enumerate(order, 1):
        hits += correct[i]
        last = k == len(order) or confidence[order[k]] < confidence[i]
        if last and confidence[i] >= 0 and hits / k >= target:
            best = confidence[i]
    return best if best is not None else 1.0


def model_document(
    *,
    version: str,
    classes: list[str],
    vocabulary: list[str],
    weights: np.ndarray[Any, Any],
    intercepts: np.ndarray[Any, Any],
    temperature: float,
    threshold: float,
    agree_threshold: float | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": version,
        "kind": "char 1-3-gram linear SVM, softmax with a fitted temperature",
        "ngram_range": list(NGRAM_RANGE),
        "classes": classes,
        "temperature": temperature,
        "threshold": threshold,
        "agree_threshold": agree_threshold,
        "intercepts": [round(float(x), 5) for x in intercepts],
        "meta": meta,
        "weights": encode_matrix(weights),
        "vocabulary": vocabulary,
    }


def prune(
    vocabulary: dict[str, int], weights: np.ndarray[Any, Any]
) -> tuple[list[str], np.ndarray[Any, Any]]:
    """Weights under PRUNE_BELOW become zero (not stored); n-grams left with none go."""
    weights = np.where(np.abs(weights) >= PRUNE_BELOW, weights, 0.0)
    keep = np.abs(weights).max(axis=1) > 0
    grams = sorted((g for g, row in vocabulary.items() if keep[row]), key=vocabulary.__getitem__)
    return grams, weights[[vocabulary[g] for g in grams]]


def fit(texts: list[str], y: np.ndarray[Any, Any], classes: list[str], c: float) -> NgramModel:
    """A model on these texts, pruned and stored as shipped (temperature 1, no thresholds)."""
    from sklearn.svm import LinearSVC  # noqa: PLC0415 (the `triage` group)

    vocabulary = build_vocabulary(texts)
    clf = LinearSVC(C=c, random_state=SEED, max_iter=5000)
    clf.fit(features(texts, vocabulary), y)
    coef = np.zeros((len(vocabulary), len(classes)))
    intercepts = np.zeros(len(classes))
    for column, klass in enumerate(clf.classes_):
        coef[:, klass] = clf.coef_[column]
        intercepts[klass] = clf.intercept_[column]
    grams, weights = prune(vocabulary, coef)
    document = model_document(
        version="fold",
        classes=classes,
        vocabulary=grams,
        weights=weights,
        intercepts=intercepts,
        temperature=1.0,
        threshold=1.0,
        agree_threshold=None,
        meta={"vocabulary_before_pruning": len(vocabulary)},
    )
    return NgramModel.from_json(json.loads(json.dumps(document)))


def held_out_logits(
    texts: list[str], y: np.ndarray[Any, Any], classes: list[str], c: float
) -> np.ndarray[Any, Any]:
    """Each text scored by the model fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415

    logits = np.zeros((len(texts), len(classes)))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for train_idx, val_idx in folds.split(np.zeros(len(texts)), y):
        model = fit([texts[i] for i in train_idx], y[train_idx], classes, c)
        for i in val_idx:
            logits[i] = model.logits(texts[i])[0]
    return logits


def decisions_from(
    probs: np.ndarray[Any, Any],
    classes: list[str],
    texts: list[str],
    keywords: KeywordTriage | None,
) -> list[tuple[str, float, str | None]]:
    """(model's top class, its probability, the keyword layer's decisive category)."""
    out: list[tuple[str, float, str | None]] = []
    for row, text in zip(probs, texts, strict=True):
        best = int(np.argmax(row))
        decisive = None
        if keywords is not None:
            suggestion = keywords.classify_normalised(text)
            if suggestion.confidence >= KEYWORD_DECISIVE:
                decisive = suggestion.category
        out.append((classes[best], float(row[best]), decisive))
    return out


def pick_agree_threshold(
    decisions: list[tuple[str, float, str | None]], gold: list[str], threshold: float
) -> float | None:
    """The lowest probability from which a decisive keyword match naming the model's top
    class may route, keeping the whole auto-routed set at ≥ 97 % precision and the texts
    it adds at ≥ 97 % too; None when no such point helps."""
    base = [i for i, (c, p, _) in enumerate(decisions) if c != NONE and p >= threshold]
    base_hits = sum(decisions[i][0] == gold[i] for i in base)
    extra = [i for i, (c, p, k) in enumerate(decisions) if c != NONE and p < threshold and k == c]
    extra.sort(key=lambda i: -decisions[i][1])
    best: float | None = None
    hits = 0
    for k, i in enumerate(extra, 1):
        hits += decisions[i][0] == gold[i]
        total = (base_hits + hits) / (len(base) + k)
        last = k == len(extra) or decisions[extra[k]][1] < decisions[i][1]
        if last and hits / k >= TARGET_PRECISION and total >= TARGET_PRECISION:
            best = decisions[i][1]
    return best


def calibrate(
    logits: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    classes: list[str],
    texts: list[str],
    keywords: KeywordTriage | None,
) -> tuple[float, float, float | None, dict[str, float]]:
    """Temperature, threshold, keyword-agree threshold and figures from held-out logits."""
    temperature = fit_temperature(logits, y)
    probs = softmax(logits, temperature)
    decisions = decisions_from(probs, classes, texts, keywords)
    gold = [classes[i] for i in y]
    confidence = [p if c != NONE else -1.0 for c, p, _ in decisions]
    correct = [c == g for (c, _, _), g in zip(decisions, gold, strict=True)]
    threshold = pick_threshold(confidence, correct)
    agree = pick_agree_threshold(decisions, gold, threshold)
    return temperature, threshold, agree, validation_figures(decisions, gold, threshold, agree)


def fit_danger(
    texts: list[str], danger: np.ndarray[Any, Any], vocabulary: dict[str, int]
) -> tuple[np.ndarray[Any, Any], float]:
    """A binary danger model over the same features: a weight per n-gram, an intercept."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    clf = LogisticRegression(C=DANGER_C, class_weight="balanced", solver="liblinear")
    clf.fit(features(texts, vocabulary), danger)
    return clf.coef_[0], float(clf.intercept_[0])


def danger_scores(
    texts: list[str], weights: np.ndarray[Any, Any], intercept: float, vocabulary: dict[str, int]
) -> np.ndarray[Any, Any]:
    scores: np.ndarray[Any, Any] = features(texts, vocabulary) @ weights + intercept
    return scores


def pick_danger_threshold(
    scores: np.ndarray[Any, Any], lexicon: list[bool], danger: list[bool]
) -> tuple[float, dict[str, float]]:
    """The lowest score from which the model may call a text a danger while the lexicon
    and the model together raise at most DANGER_FALSE_ALARMS of the calm texts."""
    calm = [i for i, d in enumerate(danger) if not d]
    budget = int(DANGER_FALSE_ALARMS * len(calm)) - sum(lexicon[i] for i in calm)
    extra = sorted((scores[i] for i in calm if not lexicon[i]), reverse=True)
    threshold = float(extra[budget]) + 1e-6 if 0 <= budget < len(extra) else float("inf")
    if budget < 0:
        threshold = float("inf")
    flagged = [lexicon[i] or scores[i] >= threshold for i in range(len(danger))]
    dangers = [i for i, d in enumerate(danger) if d]
    figures = {
        "recall": round(sum(flagged[i] for i in dangers) / max(len(dangers), 1), 4),
        "false_alarms": round(sum(flagged[i] for i in calm) / max(len(calm), 1), 4),
        "lexicon_recall": round(sum(lexicon[i] for i in dangers) / max(len(dangers), 1), 4),
    }
    return threshold, figures


def train(
    paths: list[Path],
    out: Path,
    log: Any = print,
    danger_paths: list[Path] | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    raw, problems = load_rows(paths)
    for problem in problems[:20]:
        log(f"  skipped {problem}")
    if len(problems) > 20:
        log(f"  … and {len(problems) - 20} more malformed lines")
    pairs, repeats = dedupe(raw)
    texts = [text for text, _ in pairs]
    labels = [row.category for _, row in pairs]
    counts = Counter(labels)
    log(
        f"{len(raw)} rows from {len(paths)} files, {repeats} repeated texts dropped, "
        f"{len(pairs)} texts in {len(counts)} classes"
    )
    small = sorted(c for c, n in counts.items() if n < FOLDS)
    if small:
        raise SystemExit(f"fewer than {FOLDS} texts for: {', '.join(small)}")
    classes = sorted(counts)
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[c] for c in labels])
    keywords = KeywordTriage(Vocabulary.load(TRIAGE_TOML).keywords)

    best: tuple[tuple[float, float], float, Any] | None = None
    for c in C_GRID:
        logits = held_out_logits(texts, y, classes, c)
        calibration = calibrate(logits, y, classes, texts, keywords)
        figures = calibration[3]
        log(f"  C={c:g}: held-out {json.dumps(figures)}")
        score = (figures["auto_share_served"], figures["top1"])
        if best is None or score > best[0]:
            best = (score, c, calibration)
    assert best is not None
    _, chosen_c, (temperature, threshold, agree, figures) = best
    model = fit(texts, y, classes, chosen_c)

    # The danger model: held out the same way, its threshold within the false-alarm budget.
    from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415

    # The danger-only texts join the corpus's for this model alone (a text already in the
    # corpus keeps the corpus's label); each fold holds out its share of both, the extra
    # texts stratified by their danger label.
    danger_raw, danger_problems = load_rows(danger_paths or [])
    for problem in danger_problems[:20]:
        log(f"  skipped {problem}")
    known = set(texts)
    extra = [(text, row) for text, row in dedupe(danger_raw)[0] if text not in known]
    d_texts = texts + [text for text, _ in extra]
    danger = np.asarray([row.danger for _, row in pairs] + [row.danger for _, row in extra])
    strata = np.concatenate([y, len(classes) + danger[len(texts) :].astype(int)])
    if extra:
        files = len(danger_paths or [])
        log(f"danger model: {len(extra)} more texts from {files} danger-only files")
    lexicon = [bool(kinds_of(text)) for text in d_texts]
    held_out = np.zeros(len(d_texts))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for train_idx, val_idx in folds.split(np.zeros(len(d_texts)), strata):
        fold_texts = [d_texts[i] for i in train_idx]
        vocabulary = build_vocabulary(fold_texts)
        weights, intercept = fit_danger(fold_texts, danger[train_idx], vocabulary)
        held_out[val_idx] = danger_scores(
            [d_texts[i] for i in val_idx], weights, intercept, vocabulary
        )
    danger_threshold, danger_figures = pick_danger_threshold(
        held_out, lexicon, [bool(d) for d in danger]
    )
    danger_weights, danger_intercept = fit_danger(d_texts, danger, model.vocabulary)
    log(f"danger (held out, lexicon + model): {json.dumps(danger_figures)}")

    digest = fingerprint(
        [
            json.dumps(
                {
                    "seed": SEED,
                    "ngram": NGRAM_RANGE,
                    "min_df": MIN_DF,
                    "c": C_GRID,
                    "folds": FOLDS,
                    "prune": PRUNE_BELOW,
                    "format": FORMAT,
                    "danger_c": DANGER_C,
                    "danger_false_alarms": DANGER_FALSE_ALARMS,
                }
            ),
            # The keyword layer's vocabulary sets the agree threshold: part of the version.
            TRIAGE_TOML.read_text(encoding="utf-8"),
            *(f"{row.category}\t{int(row.danger)}\t{text}" for text, row in pairs),
            *(f"danger-only\t{int(row.danger)}\t{text}" for text, row in extra),
        ]
    )
    version = f"ngram-svm-{digest[:8]}"
    grams = sorted(model.vocabulary, key=model.vocabulary.__getitem__)
    document = model_document(
        version=version,
        classes=classes,
        vocabulary=grams,
        weights=model.weights,
        intercepts=model.intercepts,
        temperature=temperature,
        threshold=threshold,
        agree_threshold=agree,
        meta={
            "corpus_sha256": digest,
            "files": [p.name for p in paths],
            "texts": len(pairs),
            "danger_only_files": [p.name for p in danger_paths or []],
            "danger_only_texts": len(extra),
            "classes": dict(sorted(counts.items())),
            "vocabulary": len(grams),
            "vocabulary_before_pruning": (model.meta or {}).get("vocabulary_before_pruning"),
            "c": chosen_c,
            "seed": SEED,
            "folds": FOLDS,
            "held_out_figures": figures,
            "danger_held_out_figures": danger_figures,
        },
    )
    document["danger"] = {
        "kind": "logistic regression on the danger column, same n-grams",
        "intercept": round(danger_intercept, 5),
        "threshold": danger_threshold if np.isfinite(danger_threshold) else None,
        "weights": encode_matrix(np.asarray(danger_weights).reshape(-1, 1)),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    out.write_text(text + "\n", encoding="utf-8")
    log(
        f"C={chosen_c:g}, temperature {temperature}, threshold {threshold:.4f}, "
        f"keyword-agree threshold {agree}"
    )
    log(f"held-out (5 folds): {json.dumps(figures)}")
    log(
        f"vocabulary {len(grams)} n-grams; {out} {out.stat().st_size / 1024:.0f} KiB, "
        f"version {version}, {time.perf_counter() - started:.0f} s"
    )
    return document


def validation_figures(
    decisions: list[tuple[str, float, str | None]],
    gold: list[str],
    threshold: float,
    agree: float | None,
) -> dict[str, float]:
    def auto(c: str, p: float, k: str | None) -> bool:
        if c == NONE:
            return False
        return p >= threshold or (agree is not None and k == c and p >= agree)

    served = [i for i, g in enumerate(gold) if g != NONE]
    nones = [i for i, g in enumerate(gold) if g == NONE]
    routed = [i for i, d in enumerate(decisions) if auto(*d)]
    hits = sum(decisions[i][0] == gold[i] for i in routed)
    return {
        "top1": round(sum(decisions[i][0] == gold[i] for i in range(len(gold))) / len(gold), 4),
        "auto_share_served": round(sum(auto(*decisions[i]) for i in served) / len(served), 4),
        "auto_precision": round(hits / len(routed), 4) if routed else 1.0,
        "none_auto": round(sum(auto(*decisions[i]) for i in nones) / len(nones), 4)
        if nones
        else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="directory of *.tsv")
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        default=[],
        help="more labelled TSV files (dispatcher examples)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument(
        "--no-danger-only",
        action="store_true",
        help="leave out corpus/danger-only/ and dev/danger-*.tsv (the danger model's extra texts)",
    )
    args = parser.parse_args(argv)
    paths = corpus_files(args.corpus) if args.corpus else corpus_files()
    paths += [p for p in args.extra if str(p)]
    if not paths:
        print("no corpus files found", file=sys.stderr)
        return 1
    train(paths, args.out, danger_paths=[] if args.no_danger_only else danger_only_files())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
