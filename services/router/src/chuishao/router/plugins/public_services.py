"""Public services people ask about (咨询类): schools, medical care, social insurance,
household registration. Mostly enquiries, answered in working days (sla policies)."""

from chuishao.common.categories import Category
from chuishao.common.domain import Level
from chuishao.router.plugins.attributes import text
from chuishao.router.plugins.rules import Rule, RulePlugin

EDUCATION = Rule(
    Category(
        code="education",
        name="教育入学",
        description="School enrolment, kindergartens, school fees, extra-curricular training "
        "institutions, school safety",
        group="public_services",
        keywords=("入学", "幼儿园", "学位", "培训机构", "择校"),
        attributes=(text("school", "Name of the school or institution (学校/机构名称)"),),
    ),
    lead=("education",),
)
MEDICAL_SERVICE = Rule(
    Category(
        code="medical_service",
        name="医疗卫生",
        description="Hospitals, clinics, doctors' attitude, registration, medical fees, "
        "vaccinations",
        group="public_services",
        keywords=("医院", "挂号", "看病", "疫苗", "诊所"),
        attributes=(text("hospital", "Name of the hospital or clinic (医疗机构名称)"),),
    ),
    lead=("health",),
)
SOCIAL_SECURITY = Rule(
    Category(
        code="social_security",
        name="社保医保",
        description="Pensions, social insurance contributions, medical insurance "
        "reimbursement, unemployment benefit",
        group="public_services",
        keywords=("社保", "医保", "养老金", "失业金", "医保报销"),
    ),
    lead=("human_resources",),
)
HOUSEHOLD_REGISTRATION = Rule(
    Category(
        code="household_registration",
        name="户籍证件",
        description="Hukou, ID cards, residence permits, certificates from the police station",
        group="public_services",
        keywords=("户口", "身份证", "居住证", "落户", "派出所开证明"),
    ),
    lead=("public_security",),
    level=Level.STREET,  # the street's police station (派出所)
)

plugin = RulePlugin(EDUCATION, MEDICAL_SERVICE, SOCIAL_SECURITY, HOUSEHOLD_REGISTRATION)
