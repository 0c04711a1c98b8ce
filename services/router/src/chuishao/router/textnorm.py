"""The one normalisation every triage step reads through (keywords, model, danger):
full-width forms to half-width (NFKC), Traditional to Simplified (OpenCC's t2s, whose
dictionaries ship inside the wheel: nothing is fetched), case folded, whitespace dropped,
then Cantonese function words read as Mandarin (困咗人 → 困了人) and the known
misspellings of hazard words put right (煤汽 → 煤气, 電踢 → 电梯, mq泄漏 → 煤气泄漏).

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

# Cantonese function words written in Mandarin (粤语: 困咗人 → 困了人, 喺入面 → 在里面,
# 冇反应 → 没反应, 叫唔醒 → 叫不醒): the lexicon, the keywords and the model are written
# in Mandarin, so one mapping lets every rule read Cantonese reports instead of a
# Cantonese twin per pattern. Only characters Mandarin does not use in these senses
# (仲 stays: 仲裁; 系 stays).
_CANTONESE = str.maketrans(
    {
        "咗": "了",
        "喺": "在",
        "嘅": "的",
        "冇": "没",
        "唔": "不",
        "嚟": "来",
        "佢": "他",
        "哋": "们",
        "啲": "些",
        "嗰": "那",
        "畀": "给",
        "睇": "看",
        "揾": "找",
        "攞": "拿",
    }
)
# Pinyin initials for gas typed in a hurry (mq泄漏了, rq味): only before a gas word's
# companions, so an abbreviation elsewhere stays.
_INITIALS = compile_fast(r"(?<![a-z])(mq|rq|trq)(?=[泄漏味罐管灶阀表爆中]|的味)")
_INITIAL_WORDS = {"mq": "煤气", "rq": "燃气", "trq": "天然气"}


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s.json")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text))


def _right(match: re.Match[str]) -> str:
    return _TYPOS[int(str(match.lastgroup)[1:])][1]


def spell_right(clean: str) -> str:
    """Cantonese function words in Mandarin, gas's pinyin initials and the known
    misspellings of hazard words (_TYPOS) written right."""
    clean = clean.translate(_CANTONESE).replace("入面", "里面")
    clean = _INITIALS.sub(lambda m: _INITIAL_WORDS[m.group(1)], clean)
    return _TYPO.sub(_right, clean)


def normalise(text: str) -> str:
    """NFKC, Traditional → Simplified, case folded, whitespace dropped, hazard words'
    known misspellings put right."""
    folded = to_simplified(unicodedata.normalize("NFKC", text)).casefold()
    return spell_right(_SPACE.sub("", folded))
