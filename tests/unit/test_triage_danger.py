"""The danger detector on a fixture: dangers in any wording (Traditional too) are found
with the right number to call; risks, bills and broken equipment are not alarms."""

from pathlib import Path

import pytest

from chuishao.router.danger import LEXICON_FILE, DangerAssessment, assess, kinds_of, load_lexicon
from chuishao.router.textnorm import normalise

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
