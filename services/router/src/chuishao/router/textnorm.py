"""The one normalisation every triage step reads through (keywords, model, danger):
full-width forms to half-width (NFKC), Traditional to Simplified (OpenCC's t2s, whose
dictionaries ship inside the wheel: nothing is fetched), case folded, whitespace dropped.

Reports arrive in both scripts (巷子裡有很重的瓦斯味); the corpus, the keywords and the
danger lexicon are written in Simplified, so conversion first lets one vocabulary serve
both. Character-level t2s costs a few microseconds a text."""

import re
import unicodedata
from functools import cache

import opencc

_SPACE = re.compile(r"\s+")


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s.json")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text))


def normalise(text: str) -> str:
    """NFKC, Traditional → Simplified, case folded, whitespace dropped."""
    folded = to_simplified(unicodedata.normalize("NFKC", text)).casefold()
    return _SPACE.sub("", folded)
