"""The one normalisation every triage step reads through (keywords, model, danger):
full-width forms to half-width (NFKC), Traditional to Simplified (OpenCC's t2s, whose
dictionaries ship inside the wheel: nothing is fetched), case folded, whitespace dropped,
then the known misspellings of hazard words put right (煤汽 → 煤气, 電踢 → 电梯).

Reports arrive in both scripts (巷子裡有很重的瓦斯味); the corpus, the keywords and the
danger lexicon are written in Simplified, so conversion first lets one vocabulary serve
both. Character-level t2s costs a few microseconds a text."""

import re
import unicodedata
from functools import cache

import opencc

from chuishao.router.regex_prefix import compile_fast

_SPACE = re.compile(r"\s+")

# Misspellings and homophones of hazard words that reports carry (a pinyin keyboard's
# first candidate, a Traditional typo): written right once here, so the keywords, the
# model and the danger lexicon read one spelling. Each entry is narrow on purpose —
# 然气 only before a gas word (居然气得, 突然气温 stay), 着货 not after a verb that
# carries goods (装着货), 露电 not inside 裸露电线 — so no correct text is changed.
_TYPOS: tuple[tuple[str, str], ...] = (
    ("煤汽|媒气|霉气(?=[罐味管灶表阀泄漏])|没气(?=罐)", "煤气"),
    ("暴炸", "爆炸"),
    ("火宰", "火灾"),
    ("(?<![保预存截停])留(?=了?(好多|很多|一地|不少|满地|满身)?的?血)", "流"),
    (
        "燃汽|(?<![天居突虽当竟果既显依仍忽偶自必公全已固不猛骤黯俨泰安坦淡欣茫默蓦陡悄愤断决贸冒"
        "徒枉油赫恍哗凛肃毅])然[气汽](?=[泄漏味管灶罐瓶表阀臭呲喷报站公费]|的味|[,。!?]|$)",
        "燃气",
    ),
    ("燃起(?=[泄漏味管灶罐瓶表阀臭呲]|的味)", "燃气"),
    ("天然汽|天燃气", "天然气"),
    ("液化汽", "液化气"),
    ("瓦丝", "瓦斯"),
    ("漏汽", "漏气"),
    ("电[踢剔锑悌](?!球|足|腿)", "电梯"),
    ("暧气|缓气(?=[片管炉])", "暖气"),
    (
        "(?<![拉装载运压背扛带等放堆盖押挑提守看卖送])着[货伙](?=[了啦拉啊呀喽咯嘞]|$|[，。！!,])",
        "着火",
    ),
    ("(?<![裸暴外显透揭])露电|漏点(?=了|啦|的地方|电)", "漏电"),
    ("就命(?=[啊呀哇啦]|$|[，。！!,])|救名啊", "救命"),
    ("踏陷|塔陷", "塌陷"),
    ("摊塌|滩塌", "坍塌"),
    ("泄楼|泄路(?=了|啦)", "泄漏"),
)
# Led by a lookahead on the characters a misspelling can start with (regex_prefix): most
# positions of a text are skipped at once.
_TYPO = compile_fast("|".join(f"(?P<t{i}>{pattern})" for i, (pattern, _) in enumerate(_TYPOS)))


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s.json")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text))


def _right(match: re.Match[str]) -> str:
    return _TYPOS[int(str(match.lastgroup)[1:])][1]


def spell_right(clean: str) -> str:
    """The known misspellings of hazard words (_TYPOS) written right."""
    return _TYPO.sub(_right, clean)


def normalise(text: str) -> str:
    """NFKC, Traditional → Simplified, case folded, whitespace dropped, hazard words'
    known misspellings put right."""
    folded = to_simplified(unicodedata.normalize("NFKC", text)).casefold()
    return spell_right(_SPACE.sub("", folded))
