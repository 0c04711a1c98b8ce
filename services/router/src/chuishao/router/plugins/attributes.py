"""Open311 attribute definitions the built-in categories share."""

from chuishao.common.categories import Attribute

YES_NO = (("yes", "是"), ("no", "否"))


def yes_no(code: str, description: str, order: int = 1) -> Attribute:
    return Attribute(
        code=code, datatype="singlevaluelist", description=description, order=order, values=YES_NO
    )


def text(code: str, description: str, order: int = 1, *, required: bool = False) -> Attribute:
    return Attribute(
        code=code, datatype="string", description=description, order=order, required=required
    )
