"""The trained triage model as the router runs it: the committed JSON artefact (no
pickle), numpy inference, the probe texts of issue 17, the keyword layer as a check,
top-three suggestions for the manual queue, and the CLI's output shape."""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chuishao.router import handlers
from chuishao.router.textnorm import normalise
from chuishao.router.triage import KeywordTriage, ModelTriage
from chuishao.router.triage_cli import load_triage
from chuishao.router.triage_cli import main as cli
from chuishao.router.triage_model import (
    DEFAULT_PATH,
    NgramModel,
    decode_matrix,
    encode_matrix,
    ngrams,
)
from unit.test_router_handlers import SNAP, report


@pytest.fixture(scope="module")
def model() -> NgramModel:
    return NgramModel.load(DEFAULT_PATH)


@pytest.fixture(scope="module")
def triage(model: NgramModel) -> ModelTriage:
    loaded = load_triage()
    assert isinstance(loaded, ModelTriage)
    return loaded


def test_the_artefact_is_versioned_json(model: NgramModel) -> None:
    assert DEFAULT_PATH.read_bytes()[:1] == b"{"
    document = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert re.fullmatch(r"ngram-svm-[0-9a-f]{8}", model.version)
    assert document["meta"]["corpus_sha256"].startswith(model.version.removeprefix("ngram-svm-"))
    assert "none" in model.classes
    assert len(model.classes) >= 40
    assert 0 < model.threshold <= 1
    assert DEFAULT_PATH.stat().st_size < 4 * 1024 * 1024


PROBES = [
    ("小区里天然气管道被挖断了，呲呲往外喷气", "emergency_hazard"),
    ("巷子裡有很重的瓦斯味", "emergency_hazard"),
    ("干了三个月活老板一分钱没给", "wage_arrears"),
    ("我们村的路被拉土的大货车压坏了", "road_damage"),
    ("骑电动车路过摔进坑里，路上那个坑好大", "road_damage"),
    ("楼道安全出口指示灯不亮", "fire_box"),
]


@pytest.mark.parametrize(("text", "category"), PROBES)
def test_the_probe_texts_of_the_issue(triage: ModelTriage, text: str, category: str) -> None:
    suggestion = triage.classify(text)
    assert suggestion.category == category
    assert suggestion.method == triage.model.version


def test_suggestions_are_the_best_three_categories(triage: ModelTriage) -> None:
    suggestion = triage.classify("家里暖气一点都不热，物业也不管")
    alternatives = suggestion.suggestions
    assert len(alternatives) == 3
    assert alternatives[0].category == suggestion.category
    assert len({a.category for a in alternatives}) == 3
    assert "none" not in {a.category for a in alternatives}
    confidences = [a.confidence for a in alternatives]
    assert confidences == sorted(confidences, reverse=True)


def test_a_text_no_category_serves_goes_to_a_person(triage: ModelTriage) -> None:
    suggestion = triage.classify("请问明天的天气怎么样，会不会下雨")
    assert suggestion.auto is False


def test_nothing_known_suggests_nothing(triage: ModelTriage) -> None:
    suggestion = triage.classify("🙂🙂🙂")
    assert (suggestion.category, suggestion.auto, suggestion.suggestions) == (None, False, ())


def test_inference_is_the_sum_of_the_rows_of_the_texts_ngrams(model: NgramModel) -> None:
    clean = normalise("路灯不亮了")
    grams = ngrams(clean)
    rows = [model.vocabulary[g] for g in grams if g in model.vocabulary]
    logits = model.intercepts + model.weights[rows].sum(axis=0) / np.sqrt(len(grams))
    expected = np.exp(logits / model.temperature)
    expected /= expected.sum()
    assert np.allclose(model.probabilities(clean), expected, atol=1e-5)


def tiny_model(threshold: float, agree: float | None) -> NgramModel:
    weights = np.asarray([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]], dtype=np.float32)
    return NgramModel.from_json(
        {
            "format": 1,
            "version": "ngram-svm-00000000",
            "ngram_range": [1, 1],
            "classes": ["heating", "none", "street_light"],
            "vocabulary": ["暖", "问", "灯"],
            "weights": encode_matrix(weights),
            "intercepts": [0.0, 0.0, 0.0],
            "temperature": 1.0,
            "threshold": threshold,
            "agree_threshold": agree,
        }
    )


def test_auto_routing_and_the_keyword_check() -> None:
    keywords = KeywordTriage({"street_light": {"路灯": 3}})
    sure = ModelTriage(tiny_model(threshold=0.5, agree=None), keywords)
    assert sure.classify("灯").auto is True
    assert sure.classify("问").auto is False  # `none` is the most likely
    assert sure.classify("问").category in {"heating", "street_light"}  # still a suggestion
    strict = ModelTriage(tiny_model(threshold=0.99, agree=None), keywords)
    assert strict.classify("路灯").auto is False
    agreeing = ModelTriage(tiny_model(threshold=0.99, agree=0.5), keywords)
    assert agreeing.classify("路灯").auto is True  # a decisive keyword agrees
    assert agreeing.classify("灯").auto is False  # no keyword: the model's own threshold
    served = ModelTriage(tiny_model(0.5, None), keywords, served=frozenset({"heating"}))
    routed = served.classify("灯")
    assert routed.auto is False
    assert routed.category == "heating"


def test_the_weight_encoding_round_trips() -> None:
    matrix = np.asarray([[0.5, -1.25], [3.0, 0.0]], dtype=np.float32)
    assert np.array_equal(decode_matrix(encode_matrix(matrix), 2, 2), matrix)


def test_cli_writes_one_json_object_per_line(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("巷子裡有很重的瓦斯味\n\n路灯不亮了\n", encoding="utf-8")
    out = io.StringIO()
    assert cli(["--file", str(texts)], stdout=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    for line in lines:
        assert set(line) == {"text", "category", "confidence", "route", "danger", "suggestions"}
        assert line["route"] in {"auto", "manual"}
        assert all(set(s) == {"category", "confidence"} for s in line["suggestions"])
    assert lines[0]["text"] == "巷子裡有很重的瓦斯味"
    assert lines[0]["danger"] is True
    assert lines[1]["category"] == "street_light"


def test_cli_reads_stdin_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chuishao.router.triage"],
        input="干了三个月活老板一分钱没给\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["category"] == "wage_arrears"


def test_an_unsure_ticket_waits_with_three_suggestions() -> None:
    outcome = handlers.route_submitted(report(None, "和园小区这边有个情况想反映一下"), SNAP)
    assert outcome.state is not None
    assert outcome.state.manual is not None
    assert len(outcome.state.manual.suggestions) == 3
