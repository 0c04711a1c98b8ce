"""Markets and consumers (市场监管): consumer rights and food safety."""

from chuishao.common.categories import Category
from chuishao.common.domain import Priority
from chuishao.router.plugins.attributes import text, yes_no
from chuishao.router.plugins.rules import Rule, RulePlugin

MARKET_CONSUMER = Rule(
    Category(
        code="market_consumer",
        name="消费维权",
        description="Refunds, prepaid cards of gyms or barbers that closed, overcharging, fake "
        "goods, price gouging, warranty refused",
        group="market",
        keywords=("退款", "预付卡", "假货", "乱收费", "价格欺诈"),
        attributes=(
            text("merchant", "Name of the shop or company (商家名称)"),
            text("amount", "Amount involved, yuan (涉及金额)", 2),
        ),
    ),
    lead=("market_regulation",),
)
FOOD_SAFETY = Rule(
    Category(
        code="food_safety",
        name="食品安全",
        description="Spoiled food sold, unlicensed food workshops, restaurant hygiene, expired "
        "products",
        group="market",
        keywords=("过期食品", "变质食品", "黑作坊", "食品安全", "吃坏肚子"),
        default_priority=Priority.URGENT,  # what is sold today is eaten today
        attributes=(
            text("merchant", "Name of the shop or restaurant (商家名称)"),
            yes_no("made_ill", "Someone fell ill after eating (有人食用后不适)", 2),
        ),
    ),
    lead=("market_regulation",),
)

plugin = RulePlugin(MARKET_CONSUMER, FOOD_SAFETY)
