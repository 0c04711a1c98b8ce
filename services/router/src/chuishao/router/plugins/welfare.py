"""People in difficulty: unpaid wages, requests for assistance."""

from chuishao.common.categories import Category
from chuishao.common.domain import Priority
from chuishao.router.plugins.attributes import text
from chuishao.router.plugins.rules import Rule, RulePlugin

WAGE_ARREARS = Rule(
    Category(
        code="wage_arrears",
        name="拖欠工资",
        description="Employers or contractors not paying wages (欠薪)",
        group="welfare",
        keywords=("欠薪", "拖欠工资", "工钱"),
        default_priority=Priority.URGENT,
        attributes=(
            text("employer", "Employer or site name"),
            text("workers", "How many workers are owed", 2),
        ),
    ),
    lead=("human_resources",),
)
ASSISTANCE = Rule(
    Category(
        code="assistance",
        name="困难求助",
        description="Elderly living alone, disabled, families in hardship asking for help",
        group="welfare",
        keywords=("困难", "救助", "独居", "低保"),
    ),
    lead=("civil_affairs",),
    co=("grid_station",),
)

plugin = RulePlugin(WAGE_ARREARS, ASSISTANCE)
