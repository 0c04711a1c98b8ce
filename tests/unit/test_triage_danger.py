"""The danger detector on a fixture: dangers in any wording (Traditional too) are found
with the right number to call; risks, bills and broken equipment are not alarms."""

import re
import tomllib
from pathlib import Path

import pytest

from chuishao.router.danger import (
    LEXICON_FILE,
    DangerAssessment,
    _expand,
    assess,
    calls_of,
    kinds_of,
    load_lexicon,
    model_calls_of,
    quiet_for_model,
)
from chuishao.router.regex_prefix import compile_fast, first_chars
from chuishao.router.textnorm import normalise
from chuishao.router.triage_corpus import read_rows
from chuishao.router.triage_model import default_model


def assert_found_by_rule(text: str, rule: str, call: tuple[str, ...]) -> DangerAssessment:
    """`text` is a danger that `rule` finds (the lexicon, not the model), told at least the
    numbers of `call`."""
    found = assess(text)
    assert found.danger
    assert rule in found.rules
    assert set(call) <= set(found.call)
    return found


def assert_model_quiet(text: str) -> None:
    """A frame the model's alarm does not stand on: it keeps quiet, and so no alarm."""
    assert quiet_for_model(normalise(text))
    assert assess(text) == DangerAssessment(danger=False)


DANGERS = [
    ("小区里天然气管道被挖断了，呲呲往外喷气", "gas", ("119",)),
    ("巷子裡有很重的瓦斯味", "gas", ("119",)),
    ("楼道里电动车着火了，浓烟往上冒", "fire", ("119",)),
    ("路边电线杆上的电线掉下来了还在打火花", "electric", ("119",)),
    ("村口路面突然塌陷出一个大洞", "collapse", ("119",)),
    ("电梯困人了，里面有个老人出不来", "trapped", ("119",)),
    ("暴雨后地下室进水，水已经淹到腰了", "flood", ("119",)),
    ("楼下有人拿着刀在砍人", "violence", ("110",)),
    ("公交站有个大爷突然晕倒了，叫不醒", "medical", ("120",)),
]

CALM = [
    "我想问一下燃气费怎么在网上交",
    "楼道里电动车充电，万一着火后果不堪设想",
    "小区消防通道被堵，存在火灾隐患",
    "消防箱的玻璃碎了，灭火器也没了",
    "停电通知没提前贴出来，冰箱里的东西都坏了",
    "楼下火锅店油烟太大了",
    "电费比上个月多了一倍，电表是不是有问题",
    "路灯不亮已经一个星期了",
    "表扬燃气公司的师傅，上门服务很耐心",
    "自行车轮胎漏气了，附近哪里能打气",
]

# The danger model's false-alarm budget (3.5 % of calm texts, chosen for 100 % held-out
# recall) lets it flag a short 火锅 text; the lexicon alone does not.
KNOWN_MODEL_ALARMS = {"楼下火锅店油烟太大了"}


@pytest.mark.parametrize(("text", "kind", "call"), DANGERS)
def test_dangers_are_found_with_the_number_to_call(
    text: str, kind: str, call: tuple[str, ...]
) -> None:
    found = assess(text)
    assert found.danger
    assert kind in found.kinds
    assert set(call) <= set(found.call)
    assert found.message_zh is not None
    assert all(number in found.message_zh for number in found.call)


@pytest.mark.parametrize("text", CALM)
def test_risks_bills_and_broken_equipment_are_not_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()  # the lexicon
    if text not in KNOWN_MODEL_ALARMS:
        assert assess(text) == DangerAssessment(danger=False)


def test_the_danger_model_finds_wording_the_lexicon_does_not_know() -> None:
    text = "一股刺鼻的味道从下水道里冒出来，像汽油，整条街都是"
    assert kinds_of(normalise(text)) == ()
    found = assess(text)
    assert found.danger
    assert found.call == ("119",)


def test_a_life_at_risk_is_told_to_call_at_once() -> None:
    trapped = assess("電梯困人了，裡面有個小孩")
    assert trapped.life_at_risk
    assert trapped.message_zh is not None
    assert trapped.message_zh.startswith("有人员生命危险，请立即拨打119")
    smell = assess("楼道里一股煤气味")
    assert not smell.life_at_risk
    assert smell.message_zh is not None
    assert smell.message_zh.startswith("如有人员生命危险，请立即拨打119")


def test_several_dangers_call_several_numbers_in_order() -> None:
    found = assess("厨房着火了，我妈被烟呛得昏迷了")
    assert found.call == ("119", "120")
    assert {"fire", "medical"} <= set(found.kinds)


def test_the_assessment_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        assess("着火了").danger = False  # type: ignore[misc]


# --- The wider families (data/danger.toml): one fixture each, written for this test. ---
# (text, a kind it must find, the numbers the call must include, life at risk)
FAMILIES = [
    ("后山那片坡在往下滑，泥土石头哗哗往下冲，坡脚有三户人家", "collapse", ("119",), None),
    ("村口公路上方的崖壁在掉石头，一块落在路中间，车都不敢过", "collapse", ("119",), None),
    ("山洪把河堤冲开了一个口子，水正往村里灌", "flood", ("119",), None),
    ("河水一下子涨上来了，漫过了漫水桥，桥那头还有放牛的人", "flood", ("119",), None),
    ("家里有股说不清的怪味，我和老伴都头晕想吐", "smell", ("119", "120"), None),
    ("單元樓道裡一股臭雞蛋的味道，越聞越濃", "gas", ("119",), None),
    ("一辆槽罐车在路口侧翻了，车里的液体往外流，味道很冲", "chemical", ("119",), None),
    ("对门一股糊锅味，门缝冒烟，敲门没人应，里面住着独居的老爷子", "fire", ("119",), True),
    ("楼下车库里有人在大喊救命，声音很急", "help", ("110",), True),
    ("小区门口搭的脚手架整个倒了，压住了两个路过的人", "collapse", ("119", "120"), True),
    ("大风把一棵老榆树刮断了，正好砸在一个骑车的人身上", "collapse", ("119", "120"), True),
    ("装修师傅碰到电线被电倒了，人躺在地上抽", "electric", ("119", "120"), True),
    ("水库边两个小孩在玩水，其中一个滑下去了，在水里扑腾", "water", ("119", "120"), True),
    ("老两口冬天在屋里烧煤炉子，早上邻居发现他们叫不醒", "poison", ("120",), True),
]


@pytest.mark.parametrize(("text", "kind", "call", "life"), FAMILIES)
def test_each_family_is_found_with_its_number(
    text: str, kind: str, call: tuple[str, ...], life: bool | None
) -> None:
    assert kind in kinds_of(normalise(text))  # the lexicon alone, not the model
    found = assess(text)
    assert found.danger
    assert set(call) <= set(found.call)
    if life is not None:
        assert found.life_at_risk is life
    assert found.message_zh is not None
    assert all(number in found.message_zh for number in found.call)


# Near misses of each family: the same topics, but past, drilled, feared, billed, chronic.
NEAR_MISSES = [
    "去年泥石流冲坏的那段村路一直没修，拉粮食的车过不去",
    "镇里下周组织山体滑坡避险演练，问问几点集合",
    "天气预报说有暴雨，我们山里会不会发生泥石流",
    "想了解一下塌方以后重建房子的补贴怎么申请",
    "公共厕所一股臭鸡蛋味，好几天没人冲洗了",
    "化工厂每天晚上都有刺鼻的气味飘过来，孩子老咳嗽",
    "对门老太太做饭老烧糊，楼道一股味，说她也不听",
    "昨晚河边有人喊救命，警察来了已经处理完了，想问问结果",
    "工地的脚手架搭得歪歪扭扭，担心哪天倒下来",
    "昨晚大风刮倒了一棵树，横在人行道上，没人受伤，请来清走",
    "上周有人在配电房触电，现在那边一直停电",
    "暑假快到了，能不能在水库边立个禁止游泳的牌子，怕孩子下水",
    "冬天烧煤炉怎么预防一氧化碳中毒，想请社区讲一讲",
    "隔壁村在烧秸秆，烟飘到我们小区，每年这时候都这样",
    "社区组织燃气泄漏应急演练，楼道里放了烟雾，大家别慌",
    "上个月燃气泄漏的事已经处理好了，想问一下赔偿",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_of_the_families_are_not_lexicon_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()


def test_a_text_saying_the_danger_is_over_raises_no_lexicon_alarm() -> None:
    assert kinds_of(normalise("刚才锅烧干了冒了点烟，已经关火了，人没事")) == ()
    # … while the same words without "it is over" are a danger.
    assert "fire" in kinds_of(normalise("刚才锅烧干了冒了好多烟，屋里全是烟"))


def test_a_cry_for_help_calls_110_only_when_nothing_else_says_what_is_wrong() -> None:
    assert assess("楼下有人在喊救命").call == ("110",)
    fire = assess("三号楼有人喊着火了救命")
    assert "119" in fire.call
    assert "110" not in fire.call


def test_someone_hurt_adds_120_to_a_rescue() -> None:
    found = assess("山上滚下来的石头砸中了一辆面包车，司机满脸是血")
    assert found.call == ("119", "120")
    assert found.life_at_risk


def test_the_lexicon_file_refuses_an_unknown_set(tmp_path: Path) -> None:
    source = LEXICON_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "danger.toml"
    broken.write_text(source.replace("'@gas@@near@", "'@no_such_set@@near@", 1), "utf-8")
    with pytest.raises(ValueError, match="no_such_set"):
        load_lexicon(broken)
    assert load_lexicon().version >= 2


def test_a_gas_smell_that_keeps_coming_back_is_still_a_danger_but_smoke_from_a_shop_is_not() -> (
    None
):
    assert "gas" in kinds_of(normalise("家里经常有一股煤气味"))
    assert "electric" in kinds_of(normalise("配电箱老是打火花，噼里啪啦的"))
    assert kinds_of(normalise("楼下饭馆每天晚上都冒黑烟")) == ()


def test_already_spreading_is_not_read_as_already_over() -> None:
    assert "fire" in kinds_of(normalise("火已经烧到二楼了"))


# --- Issue #17, the known misses: crimes, illness without a hazard word, jumpers,
# children in traffic or shut in cars, things about to fall on the street. ---
# (text, the rule that must fire, the exact numbers told)
NOW = [
    ("来电人称：其家对门有人正在撬门，听动静是两个人，请速派民警。", "crime_in_progress", ("110",)),
    ("我家进贼了，人还在屋里翻东西，我躲在卫生间不敢出声", "crime_in_progress", ("110",)),
    ("剛剛有人翻牆進了我家院子，現在還在院子裡轉悠", "crime_in_progress", ("110",)),
    ("楼下两伙人拿着砍刀在对砍，地上已经有血了", "violence", ("110", "120")),
    ("隔壁男的在打老婆，女的一直哭着喊别打了", "domestic_violence", ("110",)),
    ("我爸突然说不出话，半边身子动不了，嘴也歪了", "sudden_illness", ("120",)),
    ("超市门口一个人躺地上没反应，好像没呼吸了", "sudden_illness", ("120",)),
    ("阿婆跌咗一跤，起唔到身，喺楼梯口", "sudden_illness", ("120",)),
    ("我家娃从床上摔下来后一直吐，现在昏昏沉沉的", "head_injury", ("120",)),
    ("来电人称：锦绣小区8号楼楼顶有一名男子欲跳楼，情绪激动。", "jump", ("119", "110")),
    ("随手拍：人民桥上一女子坐在桥栏杆上，情绪很激动，路人在拉她", "jump_edge", ("119", "110")),
    ("马路中间有个两三岁的小孩自己在走，车来车往的，没大人", "child_in_traffic", ("110",)),
    # a child shut in a hot car: rescue breaks in, the police find the owner (119 and 110)
    ("車裡關著一個小朋友，車子熄火了，天很熱", "child_locked_in", ("119", "110")),
    ("來電人稱：和平路口一塊招牌搖搖欲墜，隨時可能砸到行人。", "falling_object", ("119",)),
    # people coming and going below: since round six the police clear them (119 and 110)
    (
        "商场外墙的玻璃幕墙裂了，风一吹咣当咣当的，下面人来人往",
        "falling_over_people",
        ("119", "110"),
    ),
]


@pytest.mark.parametrize(("text", "rule", "call"), NOW)
def test_the_known_misses_are_found_and_say_which_rule_and_number(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    found = assess(text)
    assert found.danger
    assert rule in found.rules
    assert found.call == call
    assert found.life_at_risk


# The same topics, told as past, feared, asked, noticed, complained about or denied.
NOT_NOW = [
    "上个月小区进过贼，想问问物业监控怎么调",
    "物业贴了通知，说近期小区有小偷，提醒大家锁好门窗",
    "遇到有人持刀抢劫应该怎么办",
    "我爸上周中风住院了，想咨询一下医保怎么报销",
    "昨天那个晕倒的大爷后来怎么样了，想问一下",
    "学校体育课学生跑步晕倒过，希望体育课别安排在中午",
    "去年我们楼有人跳楼，现在楼顶门还是没锁，能不能锁上",
    "跳楼价清仓，全场五折",
    "小孩被锁车里的话怎么破窗，想学一下",
    "学校放学的时候家长把车停在马路中间等孩子，后面的车全堵住了",
    "这广告牌歪成这样，迟早要出事",
    "玻璃幕墙这么旧了，哪天掉下来砸到人怎么办",
    "我很担心楼上那台空调外机会掉下来，支架都锈了",
    "路边的广告牌被风刮歪了，斜着挂在那里，下面是人行道，一个礼拜了没人管",
    "电动车停楼道里，早晚得着火",
    "邻居在楼道里堆了一堆纸箱子，着火了谁负责",
    "物业不让电动车进楼，说有火灾隐患，那我们去哪充电",
    "刚才楼下有人吵架，没动手，就是嗓门太大",
    "老人摔了一跤，没什么事，自己起来了，就是小区路太滑",
    "我们村里两家因为排水沟的事打起来了（现在已经拉开了），需要调解",
    "双十一抢了半天优惠券一张没抢到，平台规则有问题",
    "市民来电：某城区停水，供水企业称主管爆裂正在抢修，诉求：公布恢复时间。",
    "公共厕所的感应水龙头没反应，便池也不自动冲水",
    "饭店炒菜的时候抽风机响得跟飞机起飞一样",
]


@pytest.mark.parametrize("text", NOT_NOW)
def test_danger_words_without_a_danger_now_are_not_alarms(text: str) -> None:
    assert assess(text) == DangerAssessment(danger=False)


def test_the_model_alone_does_not_alarm_on_a_text_that_says_not_now() -> None:
    text = "楼道里烟很呛，不是着火，是有人在抽烟"
    clean = normalise(text)
    model = default_model()
    assert model is not None
    assert model.is_danger(clean)  # the n-grams alone would alarm
    assert kinds_of(clean) == ()
    assert assess(text) == DangerAssessment(danger=False)


def test_every_alarm_names_its_rules() -> None:
    names = {family.name for family in load_lexicon().families}
    found = assess("楼道里电动车着火了，浓烟往上冒")
    assert found.rules
    assert set(found.rules) <= names
    assert "fire" in found.rules
    model_only = assess("一股刺鼻的味道从下水道里冒出来，像汽油，整条街都是")
    assert model_only.rules == ("model",)


def test_traditional_zhe_reads_as_zhe() -> None:
    # OpenCC's t2s keeps 著; the lexicon's 拿着/围着 must still match.
    assert "violence" in kinds_of(normalise("網吧門口一群人圍著一個學生打，還有人拿著鋼管"))


DEV = Path(__file__).resolve().parents[2] / "services" / "router" / "triage" / "dev"
# The blind danger sets already measured once (danger2 … danger10), copied here as
# development sets; a blind set still unmeasured is never read by a test.
MEASURED = DEV.parent / "corpus" / "danger-only"
# Labelled numbers the detector leaves short on purpose, each against a convention the
# other sets agree on: danger8 labels a roommate who drank pesticide 110 and 120, while
# ten texts of the same situation in the other sets (爸爸喝了一瓶敌敌畏, 我哥喝了半瓶除草剂,
# 室友吃了一整瓶安眠药 …) are labelled 120 alone (docs/router.md, round six).
KNOWN_SHORT = {"室友喝了半瓶农药，现在在地上打滚，嘴里都是白沫"}


def test_the_development_sets_reach_the_targets() -> None:
    """services/router/triage/dev/*.tsv (written for the detector, not blind) and the
    measured blind sets (corpus/danger-only/*-measured.tsv): every danger text found and
    told the label's numbers, ≤ 5 % false alarms."""
    paths = sorted(DEV.glob("danger-*.tsv")) + sorted(MEASURED.glob("danger*-measured.tsv"))
    assert len([p for p in paths if p.name.endswith("-measured.tsv")]) >= 9
    rows = [row for path in paths for row in read_rows(path)[0]]
    dangers = [row for row in rows if row.danger]
    calm = [row for row in rows if not row.danger]
    assert len(dangers) >= 150
    assert len(calm) >= 150
    missed = [row.text for row in dangers if not assess(row.text).danger]
    short = [
        row.text
        for row in dangers
        if not set(row.call) <= set(assess(row.text).call) and row.text not in KNOWN_SHORT
    ]
    alarms = [row.text for row in calm if assess(row.text).danger]
    assert missed == []
    assert short == []
    assert len(alarms) <= 0.05 * len(calm), alarms


def test_the_first_character_lookahead_keeps_every_match() -> None:
    assert first_chars("(撬|进了)门|有(贼|小偷)") == frozenset("撬进有")
    assert first_chars("[^，]{0,3}着火") is None  # any character may begin it
    assert first_chars("(一直)?着火") == frozenset("一着")
    source = tomllib.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    patterns = [
        _expand(pattern, source["sets"])
        for raw in source["family"]
        for pattern in ["|".join(f"(?:{p})" for p in raw.get("patterns", [])), *raw.get("all", [])]
        if pattern
    ]
    texts = [normalise(row.text) for row in read_rows(DEV / "danger-dev.tsv")[0]]
    for pattern in patterns:
        fast, plain = compile_fast(pattern), re.compile(pattern)
        for text in texts:
            assert [m.span() for m in fast.finditer(text)] == [
                m.span() for m in plain.finditer(text)
            ]


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("前面有个男的在拽一个小姑娘", ("110",)),
        ("老人突然不说话了，脸色发白", ("120",)),
        ("有人在楼顶边上，好像要跳", ("119", "110")),
        ("一股说不清的怪味越来越浓", ("119",)),
    ],
)
def test_a_model_only_alarm_is_told_the_number_its_words_point_to(
    text: str, call: tuple[str, ...]
) -> None:
    assert model_calls_of(normalise(text)) == call
    assert set(call) <= set(calls_of((), normalise(text)))  # 120 may join when hurt


def test_an_outcome_that_is_itself_a_danger_is_not_read_as_over() -> None:
    # "It turned out to be X" is over only when X is harmless; thanks end real calls too.
    assert assess("闻到一股怪味，头晕，原来是煤气管漏了").danger
    assert assess("楼下着火了，请快点来，谢谢").danger
    assert not assess("楼下有人在喊，原来是收废品的").danger
    assert not assess("被抢的包找回来了，谢谢民警").danger


# --- Issue #17, the next round: misspelt hazard words, heavy bleeding, people pinned,
# roofing and icicles over people, animals attacking, crowd crushes; the numbers the
# police must join; worries already cleared. (text, the rule that must fire, the exact
# numbers told)
NEXT = [
    ("厨房有很浓的煤汽味，我妈晕乎乎的", "gas_leak", ("119", "120")),
    ("單元門口然氣管子被挖破了，一直在噴", "gas_leak", ("119",)),
    ("電踢停在半空，裡面困著一個老太太", "trapped", ("119", "120")),
    ("隔壁仓库着货啦，火苗窜得老高", "fire", ("119",)),
    ("楼道配电箱露电，地上都是水", "electric", ("119",)),
    ("削土豆时刀划到了手腕，血一直往外冒，毛巾都湿透了", "severe_bleeding", ("120",)),
    ("叔叔锯木板把手指锯掉了半截，血流了一地", "severe_bleeding", ("120",)),
    ("车库的水泥梁塌下来，压着我爸的腿，三个人都抬不动", "pinned", ("119", "120")),
    ("拖拉机侧翻，把老汉压在底下了", "pinned", ("119", "120")),
    ("厂房顶上的彩钢瓦被风掀得一翘一翘的，下面的停车场有人在走", "falling_object", ("119",)),
    # pupils queueing below: the police clear them (round six)
    ("屋檐下挂满了老长的冰锥，下面就是小学门口，学生在排队", "falling_over_people", ("119", "110")),
    ("集市上一头黄牛挣脱缰绳到处乱撞，撞翻了个老人", "animal_attack", ("110", "120")),
    ("一群野狗围着一个小孩咬，孩子在哭", "animal_attack", ("110", "120")),
    ("有头野猪跑进村子，见人就拱", "animal_attack", ("110", "120")),
    ("夜市人太多，有人摔倒了被踩，后面的人还在往前挤", "crowd_crush", ("110", "120")),
    ("天然气管被挖断了，嘶嘶喷气，路上的车还照样在开", "gas_leak", ("119", "110")),
    ("河堤冲出口子了，堤下那几户人家还在睡觉", "natural_hazard", ("119", "110")),
    ("停车场一辆车里锁着个小娃娃，太阳晒着，车主不在", "child_locked_in", ("119", "110")),
    ("车里锁着的小孩脸通红，拍窗户也没反应", "child_locked_in", ("119", "110", "120")),
    ("电梯卡在两层之间，里面有个孕妇在喊", "trapped", ("119", "120")),
    ("马路上一辆车冲进人群，撞倒了好几个人", "medical", ("110", "120")),  # 马路 is no horse
]


# The same topics with the worry already cleared, the water gone, nobody under the ceiling,
# old subsidence, a scratch, animals among themselves; and correct words that look like
# the misspellings (居然气得, 装着货, 裸露电线).
CLEARED = [
    "燃气公司的师傅来看过了，说管子没有漏，放心了",
    "闻到一股烟味，原来是邻居在熏香肠",
    "刚才以为着火了，原来是对面楼在熏腊肉，白紧张了",
    "上礼拜路口积水到膝盖，今天早上已经退了，路上全是淤泥",
    "楼上渗水把我家卫生间的吊顶泡塌了一块，好在没人在里面",
    "院子里那块早就陷下去的地，这周又沉了一点",
    "两只狗在小区门口打架，吵死了",
    "切菜划破了手指，贴了个创可贴就好了",
    "孩子流鼻血止不住，想问去哪个医院",
    "电踢的按钮坏了，请物业修一下",
    "差点撞倒了一个老人，司机跑了",
    "我家小孩被邻居的狗吓哭了，狗没咬人但很凶",
    "居然气得我一晚上没睡着",
    "车上装着货了，明天一早出发",
    "裸露电线已经被物业包好了",
]


@pytest.mark.parametrize("text", CLEARED)
def test_cleared_worries_and_look_alike_words_are_not_alarms(text: str) -> None:
    assert not assess(text).danger


@pytest.mark.parametrize(
    ("typed", "right"),
    [
        ("煤汽罐", "煤气罐"),
        ("然气泄漏", "燃气泄漏"),
        ("天燃气", "天然气"),
        ("電踢", "电梯"),
        ("暧气片", "暖气片"),
        ("着伙了", "着火了"),
        ("一直露电", "一直漏电"),
        ("就命啊", "救命啊"),
        ("媒气罐", "煤气罐"),
        ("暴炸了", "爆炸了"),
        ("留了好多血", "流了好多血"),
        # left as they are: correct words around the same characters
        ("居然气得", "居然气得"),
        ("突然气温", "突然气温"),
        ("装着货了", "装着货了"),
        ("裸露电线", "裸露电线"),
        ("保留血样", "保留血样"),
    ],
)
def test_known_misspellings_of_hazard_words_are_written_right(typed: str, right: str) -> None:
    assert normalise(typed) == right


# --- Issue #17, round three: general situations rather than single texts — crimes and
# scams still going on, illness with no hazard word, whoever cannot get out, things the
# wind loosens over people, burst hot-water and steam pipes, a strong smell that empties
# a room; the numbers: someone still inside a fire or a collapse (120), a door or a car
# nobody can open (119, break in), a crash on the road (110). (text, rule, exact numbers)
ROUND3 = [
    ("有人在偷车棚里的电瓶，我在楼上看着，还没走", "theft_in_progress", ("110",)),
    ("我爸在柜台要往安全账户转钱，说是公安让转的，拦不住", "fraud_in_progress", ("110",)),
    (
        "广场上有个男的往自己身上浇了汽油，拿着打火机说不给钱就点",
        "threat_to_blow_up_or_burn",
        ("119", "110"),
    ),
    ("老爷子吃饭时右手突然拿不住筷子，说话含含糊糊的", "sudden_illness", ("120",)),
    ("孩子吃糖豆卡住了，脸憋得发紫", "sudden_illness", ("120",)),
    ("同事把一整瓶安眠药当糖吃了，现在迷迷糊糊的", "overdose", ("120",)),
    ("地库的卷帘门落下来卡死了，我们五个人出不去", "trapped", ("119", "120")),
    ("游乐园的摩天轮停在半空不动了，上面好多人", "trapped", ("119", "120")),
    ("楼顶的太阳能热水器被风掀起来了，下面是小区主路", "falling_object", ("119",)),
    ("供暖管道爆了，滚烫的开水往外喷，路过的大妈被烫伤了", "scalding_burst", ("119", "120")),
    ("后厨一股味道很大，员工都撤出去了", "smell_and_symptoms", ("119",)),
    ("卧室床底下有条胳膊那么粗的蛇", "snake_in_home", ("119",)),
    ("一辆面包车在集市里横冲直撞", "vehicle_rampage", ("110",)),
    ("有人从楼顶跳下来了，躺在花坛边上还在动", "fallen_from_height", ("110", "120")),
    ("二楼着火了，里面好像还有人", "fire", ("119", "120")),
    ("我妈摔倒了起不来，门从里面反锁着", "sudden_illness", ("119", "120")),
    ("两辆货车相撞，司机卡在驾驶室里出不来", "trapped", ("119", "110", "120")),
    ("我哋度电梯困咗人，入面个阿婆好辛苦", "trapped", ("119", "120")),  # Cantonese
]


# Figures of speech, jokes, drills announced in advance, news from elsewhere, a shaking
# bed from pile-driving, odd tap water, a faulty gas alarm, a telecom cable, a car
# blocking a gate, keys locked in a car: the same words, no danger now.
NOT_NOW_ROUND3 = [
    "被房东气炸了，押金到现在都不退",
    "热得嗓子都冒烟了，公园的饮水机能不能修一下",
    "明天上午单位搞消防演练，会放烟雾，提前跟你们说一声",
    "热搜说外省一个仓库爆炸了，我们这边的仓库安全吗",
    "工地夜里打桩，震得床都在晃",
    "水龙头一开噗噗地喷气，放出来的水发白",
    "燃气报警器老是乱响，家里根本没燃气味",
    "电线杆上的光缆耷拉下来了，不带电，就是挡路",
    "小区门口被车堵住了，老人出不去",
    "我把钥匙锁在车里了，车里没人",
    "这段相声笑得我喘不上气",
]


def test_cantonese_function_words_and_gas_initials_read_as_mandarin() -> None:
    assert normalise("间屋着咗火，阿婆仲喺入面") == "间屋着了火,阿婆仲在里面"
    assert normalise("叫唔醒，冇反应") == "叫不醒,没反应"
    assert normalise("mq泄漏了") == "煤气泄漏了"
    assert normalise("劳动仲裁") == "劳动仲裁"  # 仲 stays


# Round four (DNG4): a danger word as a figure of speech, a person's temper, an idiom;
# a danger already handled or nobody at risk; sparks from welding; news from elsewhere.
NOT_NOW_ROUND4 = [
    "孩子学校作业多到爆炸，每天写到十二点",  # a degree complement
    "等公交等得我心里直冒火，四十分钟一辆没来",  # a person's mood
    "办公室空调坏了，热得我快自燃了",
    "半夜听见砰砰的跟爆炸似的，出去一看是工地在打桩",  # a simile
    "打车软件多扣了我六十块，我当场就炸了",  # a person's temper
    "俺跟隔壁吵得快打起来了，社区给调解调解吧",
    "打呼噜跟打雷似的，房子都快震塌了",
    "排队排得我心急火燎，能不能多开几个窗口",  # an idiom
    "孩子发烧到三十九度，社区医院人太多",  # 发烧, not 烧到
    "隔壁工地晚上还在电焊，火花四溅，噪音也大",  # welding sparks
    "电线没断也没冒火，就是整条街停电三个小时了",  # a denial inside the match
    "下完雨路口积水到小腿肚，没人被困，就是雨水口堵了",  # nobody at risk
    "刚才商场门口有个人晕倒，120已经拉走了，他钱包被我捡到了",  # already handled
    "俺昨儿个在电梯里困了二十来分钟，后来它自个儿好了开门了",
    "炒辣椒呛得整栋楼都在咳，我还以为哪里着火了",  # a mistaken belief
    "我朋友说他们县城有个液化气站爆炸了，我们这边多久检查一次",  # elsewhere
    "工地的围挡被风刮歪了，没有倒，就是挡住了半边人行道",  # tilted, not moving
]


# Every round's dangers, told with exactly the numbers of their labels.
@pytest.mark.parametrize(("text", "rule", "call"), [*NEXT, *ROUND3])
def test_each_round_s_situations_are_found_with_their_numbers(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    found = assess(text)
    assert found.danger
    assert rule in found.rules
    assert found.call == call


# Every round's figures of speech, notices, nuisances and handled dangers: no family fires.
@pytest.mark.parametrize("text", [*NOT_NOW_ROUND3, *NOT_NOW_ROUND4])
def test_figures_of_speech_notices_and_handled_dangers_are_not_lexicon_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()


ROUND4 = [
    ("学校围墙倒了压到两个学生", "pinned", ("119", "120")),
    ("工地电焊把下面的泡沫板点着了，火一下子就蹿起来了", "fire", ("119",)),
    ("我以为是谁家做饭，出去一看楼道里的电表箱着火了", "fire", ("119",)),
    ("刚下完暴雨，地下车库水齐腰深了，还有人在里面挪车出不来", "trapped", ("119", "120")),
    ("高架桥下快车道上一个三四岁小孩自己在跑，没看到家长", "child_in_traffic", ("110",)),
    # the figure guards are read only by the families whose words are figures too
    ("老人热得晕倒了，叫不醒", "sudden_illness", ("120",)),
    ("地震了，房子都快震塌了，墙上全是裂缝", "collapse", ("119",)),
    ("救护车已经把伤者拉走了，但楼里还有人被困，火还在烧", "fire", ("119", "120")),
    ("插座不断冒火花，还有焦味", "sparks", ("119",)),
]


@pytest.mark.parametrize(("text", "rule", "call"), ROUND4)
def test_round_four_dangers_look_alike_words_do_not_hide(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    assert_found_by_rule(text, rule, call)


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("有個小朋友一個人在河堤邊上玩，腳下就是很急的水", "110"),  # a child alone by water
        ("俺家进人了！俺在卧室听着客厅有人翻抽屉", "110"),  # a burglar in the house
        ("庙会那桥上人挤人，有老人小孩被挤得喘不上气", "110"),  # a crowd crush
        ("挖排水沟的时候沟壁塌了，一个工人被土埋到胸口", "120"),  # hurt in a collapse
        ("俺家炕烧着呢，俺爸妈一起来就迷糊，站都站不住了", "120"),  # CO
        ("麦秸垛着了，俺叔去扑脸都燎着了", "120"),  # burnt in a fire
    ],
)
def test_round_four_numbers_a_general_rule_gives(text: str, call: str) -> None:
    found = assess(text)
    assert found.danger
    assert call in found.call


# Round five (DNG5): situations, not words — someone gone under the water, a brazier or an
# engine and someone drowsy (the cause may be past), a poison swallowed, a pile of people
# on a staircase, charcoal burnt in a car; and frames whose scope spans clauses.
ROUND5 = [
    ("水塘边一个老大爷滑了一跤掉下去，冒了几个泡就看不见了", "went_under", ("119", "120")),
    ("昨晚在宿舍生了盆炭火，今早室友头疼得厉害还一直吐", "poisoning", ("119", "120")),
    ("我姑喝了小半瓶百草枯，现在一直在吐", "poison_swallowed", ("120",)),
    ("楼梯拐角有孩子绊倒了，后面的一个叠一个压下来", "crush_stacked", ("110", "120")),
    ("他发消息说在车里烧炭，然后就联系不上了", "charcoal_self_harm", ("110", "120")),
    ("怀孕三十七周，羊水破了，家里没人开车", "labour", ("120",)),
    # a past word brought back to now by a later one (上个月…今天)
    ("上个月才补好的路面今天又塌了个大坑，一辆三轮车陷进去了", "collapse", ("119",)),
]


@pytest.mark.parametrize(("text", "rule", "call"), ROUND5)
def test_round_five_situations_are_found_with_their_numbers(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    assert_found_by_rule(text, rule, call)


NOT_NOW_ROUND5 = [
    # the past told as the background of another matter: its scope spans the clauses after
    "前年在厂里上班，有个同事被机器轧伤了手，这个先不提，现在厂里欠我们三个月工资",
    "那棵老槐树歪成这样，早晚有一天要倒，砸着人就晚了",  # a feared future
    "派出所民警来过了，已经调解完了，就是他们家天天吵",  # handled by the police
    "孩子拿我手机乱打了119，说家里着火，其实没有火情，给你们添麻烦了",  # a prank call
    "这家店一杯奶茶卖六十，简直是抢劫",  # a figure
    "做梦梦到家里着火了，吓醒了一身汗",  # a dream
    "我家猫跳上键盘打了一串救命救命，哈哈",  # a joke
    "老家那边发了泥石流，听说我姑他们人都好好的",  # nobody at risk
]


@pytest.mark.parametrize("text", NOT_NOW_ROUND5)
def test_round_five_frames_are_not_lexicon_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()


def test_a_laugh_inside_a_clause_is_no_joke() -> None:
    """哈哈 as an interjection marks a joke; 哈哈大笑 inside a clause does not."""
    found = assess("大家刚才还在哈哈大笑，他突然倒地抽搐，口吐白沫")
    assert found.danger
    assert "120" in found.call


# Round six (DNG6): situations told without a hazard word — held by someone, living alone
# and unseen for days, a severe allergy, a smell told by what people dare not do, metal
# that tingles, a lift in four words — and the people the police must clear.
ROUND6 = [
    ("网约车司机把车门锁了，不走导航往山里开，不让我下车", "held_captive", ("110",)),
    ("独居的周奶奶四天没开门了，门口的报纸一大摞，打电话也不接", "unseen_alone", ("110", "120")),
    ("吃完螃蟹十分钟，我老公嘴唇肿了，说嗓子发紧", "anaphylaxis", ("120",)),
    ("整栋楼都一股怪味，邻居都说别开灯，大家往楼下跑", "smell_and_symptoms", ("119",)),
    ("小区门口的铁栏杆摸上去麻手，小孩还在上面爬", "electric", ("119",)),
    ("关电梯里了 快", "trapped", ("119",)),
    # a hazard with people passing below it: 110 joins (the police clear them)
    ("商场门口的灯箱在晃，随时会掉下来，下面排着长队", "falling_object", ("110", "119")),
    # someone in open water: the police lead the search (110 joins)
    ("村口池塘里掉进去一个小孩，在水里扑腾", "drowning", ("110", "119", "120")),
]


@pytest.mark.parametrize(("text", "rule", "call"), ROUND6)
def test_round_six_situations_are_found_with_their_numbers(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    assert_found_by_rule(text, rule, call)


NOT_NOW_ROUND6 = [
    "通知：明天下午小区消防演练，届时楼道会有烟雾，请勿拨打119",  # a notice's future
    "前天晚上电梯又关了人，维保来了把人救出来了，都没事",  # yesterday, and got out
    "垃圾站的味道冲得人都要晕过去了",  # a smell as a degree
    "楼下烧烤店的炭火烧得通红，烟全往我家飘",  # a grill's fire burning as it should
    "热水器用了好多年，能不能喊人来看一下",  # asking for a repairman
    "路口堵成这样 救命🙄",  # a sigh
    "打个比方，真要有人晕倒了救护车都进不来",  # a hypothesis
    "老太太迷迷瞪瞪的话都说不清，是不是该去做个体检",  # 的话 here is 的 + 话 … and no danger
]


@pytest.mark.parametrize("text", NOT_NOW_ROUND6[:-1])
def test_round_six_frames_are_not_lexicon_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()


def test_de_hua_is_a_hypothesis_only_when_it_is_not_de_plus_hua() -> None:
    """迷迷瞪瞪的话都说不清 is 的 + 话: a coal stove and a drowsy mother is poisoning now."""
    found = assess("我妈屋里烧着煤球炉子，今早她迷迷瞪瞪的话都说不清了")
    assert "poisoning" in found.rules
    assert "120" in found.call


# Round seven (DNG7): a threat to throw someone out of a window, a man with a gas cylinder
# or petrol and a threat, lost in the wild at night, onto the tracks, a crowd running from
# something that burns the eyes, a smell and someone down, metal that throws a child back,
# power lines, a floor creaking and a crack growing — and the numbers: two vehicles crashed
# or someone under one, people on drifting ice, someone alone behind a door not answering.
ROUND7 = [
    ("喝醉的男人说要把儿子从阳台丢下去，孩子在哭", "threat_to_throw", ("110",)),
    ("她老公把婴儿举到窗台外面，说谁报警就松手", "threat_to_throw", ("110",)),
    (
        "一个男的提着一桶汽油坐在信访办门口，说今天不给说法就一起死",
        "threat_to_blow_up_or_burn",
        ("119", "110"),
    ),
    ("我们四个在后山迷路了，天黑了，手机快没电，有个同伴脚崴了", "lost_outdoors", ("119", "110")),
    ("有人从站台上掉下去了，躺在轨道上，车马上进站", "fallen_from_height", ("110", "120")),
    ("商场里好多人捂着鼻子往外跑，都说眼睛辣", "irritant_crowd", ("119", "110")),
    ("那屋一股怪味，进去的师傅一会儿就倒在地上了", "smell_and_symptoms", ("119", "120")),
    ("孩子碰了小区的铁皮配电箱，被弹开了，手还在发麻", "electric_shock", ("119", "120")),
    # no one named at risk yet: told to call "if a life is at risk" (NO_ONE_AT_RISK_YET)
    ("村后的输电线断了，掉在水沟里", "electric", ("119",)),
    ("楼上装修砸了承重墙，我家地板嘎吱嘎吱响，裂缝越裂越大", "collapse", ("119",)),
    # the numbers: people on drifting ice, a crash and someone under a vehicle, someone
    # alone behind a door (the police break in) — 110 joins
    ("水库的冰面裂了，两个钓鱼的站在浮冰上往中间漂", "collapse", ("119", "110")),
    ("渣土车和三轮车撞了，骑车的人卡在车底下", "pinned", ("119", "110", "120")),
    ("隔壁一股煤气味，敲门没人应，里面是一个人住的老太太", "gas_leak", ("119", "110", "120")),
    ("对门独居的大爷好几天没出门，从窗户看到他躺在地上", "unseen_alone", ("110", "120")),
]


NO_ONE_AT_RISK_YET = {
    "村后的输电线断了，掉在水沟里",
    "楼上装修砸了承重墙，我家地板嘎吱嘎吱响，裂缝越裂越大",
}


@pytest.mark.parametrize(("text", "rule", "call"), ROUND7)
def test_round_seven_situations_are_found_with_their_numbers(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    found = assert_found_by_rule(text, rule, call)
    assert found.life_at_risk is (text not in NO_ONE_AT_RISK_YET)


# Round seven's frames: a wish as a figure (想跳楼的心都有, 恨不得), a sunken road that only
# holds puddles, 上回 and a near miss, nobody below, a denial between the hazard and its
# predicate (电线没露出来, 确认无泄漏), a fire handled by the fire brigade last month, a cry
# for help about a website, a door sprung back.
NOT_NOW_ROUND7 = [
    "装修的电钻声吵得我想跳楼的心都有了",
    "孩子作业写到半夜，我有想跳楼的心",
    "老板拖欠工资，气得我恨不得一把火烧了他的厂",
    "人行道地砖陷下去一块，下雨就积水，只能绕开走",
    "上回他家的狗差点扑倒我家孩子，麻烦物业管管",
    "挡土墙有点往外鼓，底下没人住也没人走，请人来看看",
    "路灯杆被撞歪了，电线没露出来，就是不亮",
    "上月车棚曾发生电动车起火，经消防处置无人员伤亡，诉求加装喷淋",
    "燃气公司检测后确认无泄漏，报警器老误报",
    "救命，社保网站一直登不上，验证码刷新不出来",
    "碰了一下铁门被弹开了，门的弹簧太紧",
    "楼上两口子吵架，说要把对方的衣服从窗户扔下去",
]


@pytest.mark.parametrize("text", NOT_NOW_ROUND7)
def test_round_seven_frames_are_not_lexicon_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()


# The same frames around a danger now: they do not hide it.
NOW_ROUND7 = [
    ("路面下沉了一大块，刚好有个骑车的摔进坑里起不来", "collapse"),
    ("小区那条大黄狗刚才扑上去把我家闺女咬了，腿上在流血", "animal_attack"),
    ("燃气公司上周说没泄漏，可今天家里煤气味特别浓，越来越大", "gas_leak"),
    ("路灯杆被车撞倒了，电线露出来了还在冒火花", "electric"),
    # 上回 is no past inside 晚上回家 or 地铁上回不去
    ("晚上回家路上一群野狗围上来扑咬我，腿上都是血", "animal_attack"),
]


@pytest.mark.parametrize(("text", "rule"), NOW_ROUND7)
def test_round_seven_frames_do_not_hide_a_danger_now(text: str, rule: str) -> None:
    assert rule in assess(text).rules


# What only the model would flag: a sign missing a character, a rooftop illegal structure,
# a shop gone with the prepaid money — frames the model's alarm does not stand on.
@pytest.mark.parametrize(
    "text",
    [
        "店门口的招牌掉了一个字，看着别扭",
        "楼顶那户私搭了个彩钢房，还在往上加",
        "健身房老板跑路了，卡里还有三千没用",
    ],
)
def test_round_seven_model_frames_keep_the_model_quiet(text: str) -> None:
    assert_model_quiet(text)


# Round eight (DNG8): danger10's misses and short numbers as kinds — a faint cry behind a
# door bolted from inside, a typo for 着火 and a fire spreading onto things, someone gone
# down into a flooded garage and not come up, a driver who locks the doors and drives off,
# someone on a roof's edge filmed by onlookers — and the numbers: a limb caught in a
# machine, a fall down a shaft, a tree on a car with someone inside, a fight, someone swept
# out clinging to wood, a crane on a live line with its driver in the cab.
ROUND8 = [
    (
        "独居的老周两天没下楼了，刚才听见他在屋里有气无力地喊人，门从里面锁着",
        "unseen_alone",
        ("119", "110", "120"),
    ),
    ("厨房的油锅着活了，火苗窜到吊柜上了", "fire", ("119",)),
    ("灶台上的火窜到抽油烟机里去了", "fire", ("119",)),
    ("暴雨灌进了地下车库，有个保安下去拉闸到现在也没上来", "gone_down_not_up", ("119",)),
    ("网约车司机把车门锁了一直往山里开，不让我下车", "held_captive", ("110",)),
    ("出租车司机锁了车门不让我下车我很害怕", "held_captive", ("110",)),
    ("有个男的爬到商场楼顶边上站着，楼下好多人在拍视频", "jump", ("110", "119")),
    ("扶梯把孩子的手卷进去了，拔不出来，孩子在哭", "severe_bleeding", ("119", "120")),
    ("大风把树刮倒压在一辆车上，车里好像有人", "struck_or_buried", ("119", "120")),
    ("工人从电梯井口掉下去了，在下面喊", "trapped", ("119", "120")),
    # @person@ knows 老汉, 老头 (not the 老头乐 scooter), 奶奶 … since version 10
    ("放牛的老汉一脚踩空掉进了枯井里", "trapped", ("119", "120")),
    ("两个邻居打起来了，老人被推倒，头磕破了在流血", "medical", ("110", "120")),
    ("有个小孩被水冲到江心去了，抱着一根木头在喊", "drowning", ("119",)),
    ("吊车吊臂碰到高压线了，司机还坐在驾驶室里，冒火花", "electric", ("119", "120")),
]


@pytest.mark.parametrize(("text", "rule", "call"), ROUND8)
def test_round_eight_situations_are_found_with_their_numbers(
    text: str, rule: str, call: tuple[str, ...]
) -> None:
    found = assert_found_by_rule(text, rule, call)
    assert found.life_at_risk is (text not in NO_ONE_NAMED_ROUND8)


# A fire with nobody named in it: told to call "if a life is at risk".
NO_ONE_NAMED_ROUND8 = {"厨房的油锅着活了，火苗窜到吊柜上了", "灶台上的火窜到抽油烟机里去了"}


# Round eight's frames: a risk likened to a powder keg with an inspection asked, a denial of
# having seen it (没看到电线露出来), dizzy from a flicker or a din, caterpillars falling on
# people, 害怕 and 容易 as a fear and a risk of what may come.
NOT_NOW_ROUND8 = [
    "小区车棚里停满了充电的电瓶车，楼上还住着人，感觉就是个火药桶，请消防来检查一下",
    "路灯杆被车刮歪了，没看到电线露出来，麻烦扶正",
    "电线杆被货车刮了一下，没发现电线断，有空来扶一下",
    "隔壁KTV的彩灯一直闪，闪得我头都晕了",
    "廣場的大屏一直閃，閃得我頭都暈了",
    "树上好多毛毛虫，老往行人身上掉，请来打药",
    "孩子害怕电梯掉下去，不敢坐",
    "扶梯边上有条缝，小孩的鞋容易被夹进去",
]


@pytest.mark.parametrize("text", NOT_NOW_ROUND8)
def test_round_eight_frames_are_not_lexicon_alarms(text: str) -> None:
    assert kinds_of(normalise(text)) == ()


# The same frames around a danger now: they do not hide it.
NOW_ROUND8 = [
    ("没看到电线露出来，但是配电箱在冒火花", "electric"),
    ("好多人在拍视频，有个人站在天台边上要往下跳", "jump"),
    # a smell is no nuisance: 熏得 is not blanked like 闪得 and 吵得
    ("屋里一股怪味，熏得我头都晕了", "smell_and_symptoms"),
    # a powder keg to inspect hides no gas smell told beside it
    ("楼道里煤气味很大，简直就是个火药桶，请燃气公司马上来检查", "gas_leak"),
    # 容易 is a risk, unless the clause goes on to what happened just now
    ("老人走路不稳容易摔倒刚才摔在地上起不来了", "sudden_illness"),
]


@pytest.mark.parametrize(("text", "rule"), NOW_ROUND8)
def test_round_eight_frames_do_not_hide_a_danger_now(text: str, rule: str) -> None:
    assert rule in assess(text).rules


@pytest.mark.parametrize(
    "text",
    [
        "香樟树上的虫子一直往下掉，落到人身上，请打药",
        "手机从电梯井口掉下去了，怎么捡",
        "老板一句话，我心里的火就窜上来了",
        "我爷爷熬着活了大半辈子",
    ],
)
def test_round_eight_model_frames_keep_the_model_quiet(text: str) -> None:
    assert_model_quiet(text)


def test_a_typo_for_fire_is_no_work_in_progress() -> None:
    assert kinds_of(normalise("楼上邻居家着活啦，黑烟从窗户往外冒")) == ("fire",)
    assert kinds_of(normalise("师傅们在楼顶干着活了一上午，吵得很")) == ()
