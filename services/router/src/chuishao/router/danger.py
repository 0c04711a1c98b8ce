"""Danger detector, separate from the category: does the text describe a danger happening
now (gas leak or a dangerous smell, fire or smoke, live wires or someone shocked,
collapse, landslide or mudslide, people trapped or struck, flooding, someone in the
water, carbon-monoxide poisoning, violence, someone hurt or ill, an animal attacking, a
crowd crush, a cry for help), is a life at risk, and which emergency number the resident
and the operator must be told to ring at once (119 fire and rescue, 110 police, 120
ambulance).

Two layers. A lexicon (data/danger.toml, data not code: families of patterns over the
normalised text, each with its kind, its numbers and whether it means a life at risk);
a match counts unless the words around it, or its clause, make it a risk, a denial, a
past event, a drill, a notice or a chronic nuisance (万一着火, 火灾隐患, 没冒烟, 去年塌方的
路, 燃气泄漏应急演练, 每天晚上排气) — or, for the families whose words are figures of speech
too (fire, collapse), a mood's degree complement or a simile (吵得脑袋都要爆炸, 跟着了火一样)
— or a past or a feared future opened earlier in the same sentence and not brought back
to now (去年在工地干活，有个工友被砸伤了腿; 迟早得倒，砸着人就晚了: guards.scope, guards.now)
— and no match counts in a text that says the danger is over (已经没事了). Then, for
wording the lexicon misses, the danger model trained on the corpus's danger column (in
data/triage-model.json, its threshold chosen on held-out folds within a false-alarm
budget); its alarm stands only when the text carries no not-now frame (a denial, a past
event, a question, a complaint about a rule: guards.model_quiet, the clause and chronic
guards, read on the whole text). The category may be uncertain; this answer alone makes
the ticket an emergency. Every alarm names its `rules`: the families that matched, or
"model".
"""

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from chuishao.router.regex_prefix import compile_fast, first_chars
from chuishao.router.textnorm import normalise
from chuishao.router.triage_model import default_model

LEXICON_FILE = Path(__file__).parent / "data" / "danger.toml"
CALL_ORDER = ("119", "110", "120")
MODEL_ONLY_CALL = ("119",)  # the model knows a danger, not its kind: fire and rescue
MODEL_RULE = "model"
# A family's patterns are one alternation, led by a lookahead on the characters a match
# can start with; when that set is this wide (人, 他, 一, 在 … start some alternative), most
# positions pass it and every alternative is tried there: such a family's patterns are
# compiled one by one instead, each with its own narrower lookahead (2–3× faster for
# sudden_illness and crime_in_progress, measured on the development texts).
SPLIT_ABOVE = 80
_CLAUSE_END = re.compile(r"[，。；！？,.;!?：:]")
_SENTENCE_END = re.compile(r"[。！？.!?]")
# OpenCC's t2s keeps 著 (a valid Simplified character: 著名), so Traditional 圍著/拿著/關著
# would miss every 着 of the lexicon; the lexicon alone reads 著 as 着 (the model's
# features stay as trained).
_ZHE = re.compile(r"著(?![名作称书述录])")


class DangerAssessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    danger: bool
    kinds: tuple[str, ...] = ()
    life_at_risk: bool = False
    call: tuple[str, ...] = ()
    message_zh: str | None = None  # told to the resident and the operator at once
    rules: tuple[str, ...] = ()  # why: the lexicon families that matched, or "model"


SAFE = DangerAssessment(danger=False)


@dataclass(frozen=True)
class Family:
    name: str
    kind: str
    call: tuple[str, ...]
    life: bool
    fallback: bool
    chronic_ok: bool  # a danger even when it keeps coming back (gas smell, sparks)
    figures: bool  # its words serve as figures of speech too (爆炸, 着火, 塌): read guards.figure_*
    cause: bool  # its first `all` pattern is a cause, which may be told in the past (昨晚烧了炭盆)
    any_of: tuple[re.Pattern[str], ...]  # one of these matches …
    all_of: tuple[re.Pattern[str], ...]  # … or every one of these does
    unless: re.Pattern[str] | None  # on the clause of the match
    unless_text: re.Pattern[str] | None  # on the whole text


@dataclass(frozen=True)
class Lexicon:
    version: int
    families: tuple[Family, ...]
    before: re.Pattern[str]
    after: re.Pattern[str]
    clause: re.Pattern[str]
    figure_head: re.Pattern[str]
    idiom: re.Pattern[str]
    figure_tail: re.Pattern[str]
    chronic: re.Pattern[str]
    scope: re.Pattern[str]
    now: re.Pattern[str]
    past: re.Pattern[str]
    resolved: re.Pattern[str]
    hurt: re.Pattern[str]
    police: re.Pattern[str]
    rescue: re.Pattern[str]
    life: re.Pattern[str]
    model_quiet: re.Pattern[str]
    model_110: re.Pattern[str]
    model_120: re.Pattern[str]
    model_jump: re.Pattern[str]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.kind for f in self.families))


def _expand(pattern: str, sets: dict[str, str]) -> str:
    # Sets may name sets defined before them (noanswer inside symptom), so expand twice.
    for _ in range(2):
        for name, value in sets.items():
            pattern = pattern.replace(f"@{name}@", value)
    if "@" in pattern:
        raise ValueError(f"unknown @set@ in danger pattern: {pattern}")
    return pattern


def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    """Read and compile the lexicon; a bad pattern fails here, at start-up."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    sets: dict[str, str] = document.get("sets", {})

    def compiled(pattern: str | None) -> re.Pattern[str] | None:
        return compile_fast(_expand(pattern, sets)) if pattern else None

    families = []
    for raw in document["family"]:
        patterns = raw.get("patterns", [])
        families.append(
            Family(
                name=raw["name"],
                kind=raw["kind"],
                call=tuple(n for n in CALL_ORDER if n in raw["call"]),
                life=bool(raw.get("life", False)),
                fallback=bool(raw.get("fallback", False)),
                chronic_ok=bool(raw.get("chronic_ok", False)),
                figures=bool(raw.get("figures", False)),
                cause=bool(raw.get("cause", False)),
                any_of=_alternation([_expand(p, sets) for p in patterns]),
                all_of=tuple(compile_fast(_expand(p, sets)) for p in raw.get("all", [])),
                unless=compiled(raw.get("unless")),
                unless_text=compiled(raw.get("unless_text")),
            )
        )
    guards = document["guards"]
    return Lexicon(
        version=int(document["version"]),
        families=tuple(families),
        before=re.compile(_expand(guards["before"], sets)),
        after=re.compile(_expand(guards["after"], sets)),
        clause=compile_fast(_expand(guards["clause"], sets)),
        figure_head=re.compile(_expand(guards["figure_head"], sets)),
        idiom=compile_fast(_expand(guards["idiom"], sets)),
        figure_tail=re.compile(_expand(guards["figure_tail"], sets)),
        chronic=compile_fast(_expand(guards["chronic"], sets)),
        scope=re.compile(_expand(guards["scope"], sets)),
        now=compile_fast(_expand(guards["now"], sets)),
        past=compile_fast(_expand(guards["past"], sets)),
        resolved=compile_fast(_expand(guards["resolved"], sets)),
        hurt=compile_fast(_expand(guards["hurt"], sets)),
        police=compile_fast(_expand(guards["police"], sets)),
        rescue=compile_fast(_expand(guards["rescue"], sets)),
        life=compile_fast(_expand(guards["life"], sets)),
        model_quiet=compile_fast(_expand(guards["model_quiet"], sets)),
        model_110=compile_fast(_expand(guards["model_110"], sets)),
        model_120=compile_fast(_expand(guards["model_120"], sets)),
        model_jump=compile_fast(_expand(guards["model_jump"], sets)),
    )


def _alternation(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    """The patterns as one alternation, or one by one when it could start almost anywhere."""
    if not patterns:
        return ()
    union = "|".join(f"(?:{p})" for p in patterns)
    first = first_chars(union)
    if len(patterns) > 1 and (first is None or len(first) > SPLIT_ABOVE):
        return tuple(compile_fast(p) for p in patterns)
    return (compile_fast(union),)


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


def _clause_span(clean: str, start: int, end: int) -> tuple[int, int]:
    """Where the clause (between two punctuation marks) a match stands in begins and ends."""
    left = max((m.end() for m in _CLAUSE_END.finditer(clean, 0, start)), default=0)
    right = _CLAUSE_END.search(clean, end)
    return left, right.start() if right else len(clean)


def _clause(clean: str, start: int, end: int) -> str:
    """The clause (between two punctuation marks) a match stands in."""
    left, right = _clause_span(clean, start, end)
    return clean[left:right]


def _in_scope(clean: str, left: int, start: int, lex: Lexicon) -> bool:
    """Told under a past or a feared frame opened earlier in the same sentence (去年在工地
    干活，有个工友被砸伤了腿; 迟早得倒，砸着人就晚了) that nothing since has brought back to
    now (现在, 刚才, 这次, 又 …)."""
    begin = max((m.end() for m in _SENTENCE_END.finditer(clean, 0, left)), default=0)
    frames = [m.end() for m in lex.scope.finditer(clean, begin, left)]
    return bool(frames) and not lex.now.search(clean, frames[-1], start)


def _framed(clause: str, guard: re.Pattern[str], lex: Lexicon, at: int) -> bool:
    """A guard word in the clause — unless it is a past word that something between it
    and the match (at) brings back to now (上个月刚修的路今天塌了)."""
    for hit in guard.finditer(clause):
        past = hit.start() < at and lex.past.fullmatch(hit.group())
        if past and lex.now.search(clause, hit.end(), at):
            continue
        return True
    return False


def _happening(
    clean: str, pattern: re.Pattern[str], family: Family, lex: Lexicon, cause: bool = False
) -> bool:
    """A match not framed as a risk, a denial, a past event, a drill or a nuisance. A
    `cause` (the brazier of a family whose state is what matters now) may be past."""
    for match in pattern.finditer(clean):
        if match.end() == match.start():
            continue
        before = clean[max(0, match.start() - 6) : match.start()]
        after = clean[match.end() : match.end() + 5]
        if lex.before.search(before) or lex.after.search(after):
            continue
        left, right = _clause_span(clean, match.start(), match.end())
        clause = clean[left:right]
        if cause:  # blanked, keeping the length (positions in the clause still hold)
            clause = lex.past.sub(lambda m: "〇" * len(m.group()), clause)
        if _framed(clause, lex.clause, lex, match.start() - left):
            continue
        if not cause and _in_scope(clean, left, match.start(), lex):
            continue
        # A figure of speech: the danger word as a degree complement of a mood or a
        # nuisance (吵得我脑袋都要爆炸, 等得直冒火, 多到爆炸) or a simile (跟着了火一样,
        # 爆炸似的). Only for the families whose words are figures too (fire, collapse,
        # a crush): 热得晕倒了, 冻得嘴唇发紫 are real, so illness and the rest never read it.
        if family.figures and (
            lex.figure_head.search(clean, left, match.start())
            or lex.figure_tail.match(clean, match.end(), right)
        ):
            continue
        if not family.chronic_ok and lex.chronic.search(clause):
            continue
        if family.unless is not None and family.unless.search(clause):
            continue
        return True
    return False


def _matches(clean: str, family: Family, lex: Lexicon) -> bool:
    # The family's own patterns first: most texts match none of a family's, and its
    # `unless_text` (a long alternation over the whole text) is then never read.
    # An `all` family first asks, at the regex engine's speed, that each of its patterns
    # occurs at all; only then are the matches read against the guards.
    found = any(_happening(clean, p, family, lex) for p in family.any_of) or (
        bool(family.all_of)
        and all(p.search(clean) for p in family.all_of)
        and all(
            _happening(clean, p, family, lex, cause=family.cause and i == 0)
            for i, p in enumerate(family.all_of)
        )
    )
    return found and not (family.unless_text is not None and family.unless_text.search(clean))


def families_of(clean: str) -> tuple[Family, ...]:
    """The lexicon families a normalised text tells of now (none if it says it is over)."""
    lex = lexicon()
    clean = _ZHE.sub("着", clean)
    if lex.resolved.search(clean):
        return ()
    # An idiom's danger word is no danger (心急火燎, 火冒三丈): blank it, keeping the length.
    clean = lex.idiom.sub(lambda m: "〇" * len(m.group()), clean)
    return tuple(f for f in lex.families if _matches(clean, f, lex))


def kinds_of(clean: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.kind for f in families_of(clean)))


def calls_of(families: tuple[Family, ...], clean: str = "") -> tuple[str, ...]:
    """The numbers of the families found; a fallback family's (a cry for help: 110) only
    when nothing else says what is wrong; 120 too when someone is hurt, trapped or in the
    water now; 110 too when the police must hold back a crowd or the traffic (guards.police:
    a crush, a crash on the road, cars still passing a gas leak, a bridge or a levee giving
    way); 119 too when someone is behind a door or in a car nobody can open (guards.rescue:
    fire and rescue break in). With no family (the model alone): the numbers its words
    point to (model_calls_of)."""
    chosen = [f for f in families if not f.fallback] or list(families)
    numbers = {n for f in chosen for n in f.call} or set(model_calls_of(clean))
    clean = _ZHE.sub("着", clean)
    # Each guard is read only when its number is not told yet (the same answer; `police`
    # and `hurt` are the two widest alternations a text with an alarm meets).
    if "120" not in numbers and _hurt_now(clean):
        numbers.add("120")
    if "110" not in numbers and _framed_now(lexicon().police, clean):
        numbers.add("110")
    if "119" not in numbers and _framed_now(lexicon().rescue, clean):
        numbers.add("119")
    return tuple(n for n in CALL_ORDER if n in numbers)


def model_calls_of(clean: str) -> tuple[str, ...]:
    """The model knows a danger, not its kind: the words around say whom to call —
    someone about to jump 110 and 119, a crime 110, someone ill 120; else 119."""
    lex = lexicon()
    if lex.model_jump.search(clean):
        return ("119", "110")
    numbers = set()
    if lex.model_110.search(clean):
        numbers.add("110")
    if lex.model_120.search(clean):
        numbers.add("120")
    return tuple(n for n in CALL_ORDER if n in numbers) or MODEL_ONLY_CALL


def _hurt_now(clean: str) -> bool:
    """Someone hurt or ill now: a `hurt` match not framed as a risk (随时可能砸到, 怕摔倒)."""
    return _framed_now(lexicon().hurt, clean)


def _framed_now(pattern: re.Pattern[str], clean: str) -> bool:
    """A match of a guard not framed as a risk or a denial by the words right before it."""
    before = lexicon().before
    for match in pattern.finditer(clean):
        if not before.search(clean[max(0, match.start() - 6) : match.start()]):
            return True
    return False


def quiet_for_model(clean: str) -> bool:
    """A text framed as not happening now, anywhere in it: the model's alarm does not
    stand (the model reads n-grams and cannot tell 不是着火 from 着火)."""
    lex = lexicon()
    return bool(
        lex.model_quiet.search(clean)
        or lex.clause.search(clean)
        or lex.chronic.search(clean)
        or lex.resolved.search(clean)
    )


_ADVICE = (
    ("gas", "燃气泄漏时不要开关电器、不要用明火，开窗并撤离到室外。"),
    ("smell", "不要开关电器、不要用明火，开窗并撤离到室外。"),
    ("chemical", "请远离泄漏物，站到上风处，不要靠近围观。"),
    ("poison", "请立即开窗通风，把人转移到空气新鲜处。"),
    ("electric", "请远离电线和带电设备，不要触碰；先断电再施救。"),
    ("water", "不要贸然下水，向落水者抛救生圈、绳子等漂浮物。"),
    ("flood", "请立即撤离到安全地带。"),
    ("collapse", "请立即撤离到安全地带。"),
    ("jump", "请不要刺激当事人，保持距离，等待民警和消防救援。"),
    ("crime", "请先躲到安全的地方，锁好门，不要与对方正面冲突。"),
    ("violence", "请先确保自身安全，远离现场，不要与对方正面冲突。"),
    ("child", "请在确保自身安全的前提下看护孩子，提醒过往车辆减速。"),
    ("animal", "请远离动物，不要追赶或激怒它，把孩子和老人带到室内或车里。"),
    ("crowd", "请不要再往前挤，护住头胸，顺着人流往外侧疏散。"),
)


def message_for(call: tuple[str, ...], life_at_risk: bool, kinds: tuple[str, ...]) -> str:
    numbers = "、".join(call)
    if life_at_risk:
        head = f"有人员生命危险，请立即拨打{numbers}！"
    else:
        head = f"如有人员生命危险，请立即拨打{numbers}。"
    for kind, advice in _ADVICE:
        if kind in kinds:
            return head + advice
    return head


def assess(text: str) -> DangerAssessment:
    clean = normalise(text)
    families = families_of(clean)
    if not families:
        # Wording the lexicon does not know: the danger model trained on the corpus's
        # danger column (data/triage-model.json) may still see it, unless the text says
        # it is not happening now. Its numbers come from the words around (model_calls_of).
        model = default_model()
        if model is None or not model.is_danger(clean) or quiet_for_model(clean):
            return SAFE
    kinds = tuple(dict.fromkeys(f.kind for f in families))
    call = calls_of(families, clean)
    life = any(f.life for f in families) or bool(lexicon().life.search(clean))
    return DangerAssessment(
        danger=True,
        kinds=kinds,
        life_at_risk=life,
        call=call,
        message_zh=message_for(call, life, kinds),
        rules=tuple(f.name for f in families) or (MODEL_RULE,),
    )
