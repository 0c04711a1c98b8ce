"""Normalisation before triage: Traditional → Simplified (OpenCC), NFKC, case, spaces."""

from chuishao.router.textnorm import normalise, to_simplified
from chuishao.router.triage import KeywordTriage


def test_traditional_characters_become_simplified() -> None:
    assert to_simplified("巷子裡有很重的瓦斯味") == "巷子里有很重的瓦斯味"
    assert normalise("電梯壞了，樓上停電") == "电梯坏了,楼上停电"


def test_full_width_case_and_whitespace() -> None:
    assert normalise("  ＫＴＶ　太吵\t１２点了 ") == "ktv太吵12点了"


def test_normalising_twice_changes_nothing() -> None:
    once = normalise("巷子裡 有很重的瓦斯味！ＡＢＣ")
    assert normalise(once) == once


def test_the_keyword_layer_reads_traditional_reports() -> None:
    triage = KeywordTriage({"elevator": {"电梯": 3}, "heating": {"暖气": 3}})
    assert triage.classify("我們樓的電梯又壞了").category == "elevator"
    assert triage.classify("暖氣不熱").category == "heating"
