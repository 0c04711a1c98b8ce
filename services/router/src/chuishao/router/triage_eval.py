"""`make triage-eval`: the triage CLI on a labelled file (the blind set), and its figures.

    python -m chuishao.router.triage_eval BLIND.tsv [--predictions OUT.jsonl] [--danger-only]

Runs `python -m chuishao.router.triage --file <the text column>` as a separate process
(what an integrator runs), reads its JSON lines back, and prints: top-1 accuracy on the
texts a category serves, the auto-routed share of them, precision among all auto-routed
texts, the misroutes, the share of `none` texts auto-routed, danger recall and false
alarms, classify p50/p99 in µs (normalisation + model + keywords, in this process), a
per-category table and the worst confusions. `--danger-only` (a danger test set, e.g.
blind/danger2.tsv) prints the danger figures alone, with the emergency numbers checked:
a danger text's call is right when every number of its label is among those told.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chuishao.router import danger
from chuishao.router.triage import Triage
from chuishao.router.triage_corpus import Row, read_rows
from chuishao.router.triage_model import NONE

BLIND = Path(__file__).resolve().parents[3] / "triage" / "blind" / "blind.tsv"


@dataclass
class PerCategory:
    texts: int = 0
    top1: int = 0
    auto: int = 0
    auto_right: int = 0
    routed_here: int = 0  # auto-routed to this category (right or wrong)


@dataclass
class Figures:
    texts: int
    served: int
    nones: int
    top1: float  # among served texts
    auto_share: float  # auto-routed share of served texts
    auto_precision: float  # among every auto-routed text (served or none)
    misroutes: list[tuple[str, str, str]]  # (gold, routed to, text)
    none_auto: float
    danger_texts: int
    danger_recall: float
    danger_missed: list[str]
    false_alarms: float
    false_alarm_texts: list[str]
    per_category: dict[str, PerCategory]
    confusions: list[tuple[str, str, int]]  # (gold, top suggestion, count), served texts
    timing_us: dict[str, float] = field(default_factory=dict)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def evaluate(rows: Sequence[Row], predictions: Sequence[dict[str, Any]]) -> Figures:
    if len(rows) != len(predictions):
        raise ValueError(f"{len(rows)} labelled texts but {len(predictions)} predictions")
    per: dict[str, PerCategory] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    misroutes: list[tuple[str, str, str]] = []
    served = nones = top1 = auto_served = auto_none = routed = routed_right = 0
    danger_texts = danger_hit = calm_texts = alarms = 0
    missed: list[str] = []
    alarm_texts: list[str] = []
    for row, pred in zip(rows, predictions, strict=True):
        guess = pred["category"]
        auto = pred["route"] == "auto"
        entry = per.setdefault(row.category, PerCategory())
        entry.texts += 1
        if auto:
            routed += 1
            per.setdefault(guess, PerCategory()).routed_here += 1
            if guess == row.category:
                routed_right += 1
                entry.auto_right += 1
            else:
                misroutes.append((row.category, guess, row.text))
        entry.auto += auto
        if row.category == NONE:
            nones += 1
            auto_none += auto
        else:
            served += 1
            auto_served += auto
            if guess == row.category:
                top1 += 1
                entry.top1 += 1
            else:
                confusions[(row.category, str(guess))] += 1
        if row.danger:
            danger_texts += 1
            if pred["danger"]:
                danger_hit += 1
            else:
                missed.append(row.text)
        else:
            calm_texts += 1
            if pred["danger"]:
                alarms += 1
                alarm_texts.append(row.text)
    return Figures(
        texts=len(rows),
        served=served,
        nones=nones,
        top1=_share(top1, served),
        auto_share=_share(auto_served, served),
        auto_precision=_share(routed_right, routed) if routed else 1.0,
        misroutes=misroutes,
        none_auto=_share(auto_none, nones),
        danger_texts=danger_texts,
        danger_recall=_share(danger_hit, danger_texts) if danger_texts else 1.0,
        danger_missed=missed,
        false_alarms=_share(alarms, calm_texts),
        false_alarm_texts=alarm_texts,
        per_category=dict(sorted(per.items())),
        confusions=[(g, p, n) for (g, p), n in confusions.most_common()],
    )


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_classify(triage: Triage, texts: Sequence[str], rounds: int = 3) -> dict[str, float]:
    """µs per text: triage (normalisation included) and the danger detector, warm."""
    for text in texts[:20]:
        triage.classify(text)
        danger.assess(text)
    triage_us: list[float] = []
    danger_us: list[float] = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter_ns()
            triage.classify(text)
            middle = time.perf_counter_ns()
            danger.assess(text)
            triage_us.append((middle - start) / 1000)
            danger_us.append((time.perf_counter_ns() - middle) / 1000)
    return {
        "classify_p50": percentile(triage_us, 0.5),
        "classify_p99": percentile(triage_us, 0.99),
        "danger_p50": percentile(danger_us, 0.5),
        "danger_p99": percentile(danger_us, 0.99),
    }


def report(figures: Figures, *, examples: int = 15) -> str:
    f = figures
    lines = [
        f"texts {f.texts}: {f.served} served by a category, {f.nones} none",
        f"top-1 accuracy (served)        {f.top1:7.1%}   target ≥ 90 %",
        f"auto-routed share (served)     {f.auto_share:7.1%}   target ≥ 80 %",
        f"precision among auto-routed    {f.auto_precision:7.1%}   target ≥ 97 %",
        f"misroutes (auto, wrong)        {len(f.misroutes):7d}",
        f"none texts auto-routed         {f.none_auto:7.1%}   target ≤ 5 %",
        f"danger recall                  {f.danger_recall:7.1%}   target 100 % "
        f"({f.danger_texts} danger texts)",
        f"danger false alarms            {f.false_alarms:7.1%}   target ≤ 5 %",
    ]
    if f.timing_us:
        t = f.timing_us
        lines.append(
            f"classify µs p50 {t['classify_p50']:.0f}  p99 {t['classify_p99']:.0f}"
            f"   (danger p50 {t['danger_p50']:.0f}  p99 {t['danger_p99']:.0f})   "
            "target p99 ≤ 1000"
        )
    lines += ["", f"{'category':24} {'texts':>5} {'top-1':>7} {'auto':>7} {'auto ok':>8}"]
    for code, c in f.per_category.items():
        if c.texts == 0:
            continue
        # `none`: no top-1 (no category is right); its auto column is what was misrouted.
        top1 = f"{_share(c.top1, c.texts):7.1%}" if code != NONE else f"{'-':>7}"
        right = f"{_share(c.auto_right, c.auto):8.1%}" if c.auto else f"{'-':>8}"
        lines.append(f"{code:24} {c.texts:5d} {top1} {_share(c.auto, c.texts):7.1%} {right}")
    lines += ["", "worst confusions (gold → top suggestion):"]
    lines += [f"  {g} → {p}: {n}" for g, p, n in f.confusions[:examples]]
    if f.misroutes:
        lines += ["", "misroutes (gold → routed to):"]
        lines += [f"  {g} → {p}: {t}" for g, p, t in f.misroutes[:examples]]
    if f.danger_missed:
        lines += ["", "danger texts missed:"] + [f"  {t}" for t in f.danger_missed[:examples]]
    if f.false_alarm_texts:
        lines += ["", "false alarms:"] + [f"  {t}" for t in f.false_alarm_texts[:examples]]
    return "\n".join(lines)


def danger_report(rows: Sequence[Row], figures: Figures, *, examples: int = 30) -> str:
    """The danger figures of a danger test set, and whether the numbers told are right."""
    f = figures
    dangers = [row for row in rows if row.danger]
    wrong_call: list[str] = []
    for row in dangers:
        told = danger.assess(row.text).call
        if told and not set(row.call) <= set(told):
            wrong_call.append(f"{','.join(row.call)} → {','.join(told)}: {row.text}")
    calm = len(rows) - len(dangers)
    lines = [
        f"texts {len(rows)}: {len(dangers)} danger, {calm} not",
        f"danger recall                  {f.danger_recall:7.1%}   target 100 %",
        f"danger false alarms            {f.false_alarms:7.1%}   target ≤ 5 %",
        f"call missing a labelled number {len(wrong_call):7d}   (of {len(dangers)} danger texts)",
    ]
    if f.danger_missed:
        lines += ["", "danger texts missed:"] + [f"  {t}" for t in f.danger_missed[:examples]]
    if f.false_alarm_texts:
        # Each with the rules that fired (lexicon families or "model"): what to fix.
        lines += ["", "false alarms (rules that fired):"] + [
            f"  [{','.join(danger.assess(t).rules)}] {t}" for t in f.false_alarm_texts[:examples]
        ]
    if wrong_call:
        lines += ["", "numbers (labelled → told):"] + [f"  {t}" for t in wrong_call[:examples]]
    return "\n".join(lines)


def run_cli(texts: Sequence[str], out: Path) -> list[dict[str, Any]]:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as handle:
        handle.write("".join(text + "\n" for text in texts))
        handle.flush()
        result = subprocess.run(
            [sys.executable, "-m", "chuishao.router.triage", "--file", handle.name],
            check=True,
            capture_output=True,
            text=True,
        )
    out.write_text(result.stdout, encoding="utf-8")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Figures of the triage CLI on a labelled file")
    parser.add_argument("labelled", type=Path, nargs="?", default=BLIND)
    parser.add_argument("--predictions", type=Path, default=None, help="keep the JSON lines")
    parser.add_argument(
        "--danger-only", action="store_true", help="a danger test set: danger figures alone"
    )
    args = parser.parse_args(argv)
    rows, problems = read_rows(args.labelled)
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    out = args.predictions or Path(tempfile.gettempdir()) / "triage-eval.jsonl"
    predictions = run_cli([row.text for row in rows], out)
    figures = evaluate(rows, predictions)
    if args.danger_only:
        print(danger_report(rows, figures))
        return 0
    from chuishao.router.triage_cli import load_triage  # noqa: PLC0415 (the timing only)

    figures.timing_us = time_classify(load_triage(), [row.text for row in rows])
    print(report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
