"""Checks a report's answers against its category's Open311 attribute definitions."""

from chuishao.common.categories import Category


class InvalidAttribute(ValueError):
    def __init__(self, code: str, message: str, message_zh: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message_zh = message_zh or f"附加信息 {code} 填写有误，请检查"


# An Open311 `string` is a line, `text` a paragraph; lists name each value once. The
# command caps every answer already (commands.MAX_ATTRIBUTE_*); these are per datatype.
MAX_STRING = 255
MAX_TEXT = 4000
LIST_TYPES = ("singlevaluelist", "multivaluelist")


def _check_size(code: str, datatype: str, answer: str | list[str], defined: int) -> None:
    if isinstance(answer, list):
        if datatype not in LIST_TYPES and len(answer) > 1:
            raise InvalidAttribute(
                code, f"{code} takes one value, not a list", f"附加信息 {code} 只能填一个值"
            )
        if len(set(answer)) != len(answer) or (defined and len(answer) > defined):
            raise InvalidAttribute(
                code,
                f"{code} names each value at most once",
                f"附加信息 {code} 的每个选项只能选一次",
            )
        return
    limit = MAX_STRING if datatype == "string" else MAX_TEXT
    if len(answer) > limit:
        raise InvalidAttribute(
            code,
            f"{code} is too long: at most {limit} characters",
            f"附加信息 {code} 太长：最多 {limit} 个字符",
        )


def check(category: Category, answers: dict[str, str | list[str]]) -> None:
    defined = {attribute.code: attribute for attribute in category.attributes}
    for code in answers:
        if code not in defined:
            raise InvalidAttribute(
                code,
                f"{category.code} has no attribute {code!r}; remove it",
                f"这个类别没有附加信息 {code}，请删掉它",
            )
    for attribute in category.attributes:
        answer = answers.get(attribute.code)
        if answer in (None, "", []):
            if attribute.required:
                raise InvalidAttribute(
                    attribute.code,
                    f"attribute {attribute.code} is required",
                    f"请填写附加信息 {attribute.code}（{attribute.description}）",
                )
            continue
        keys = {key for key, _ in attribute.values}
        chosen = answer if isinstance(answer, list) else [answer]
        if attribute.datatype == "singlevaluelist" and len(chosen) != 1:
            raise InvalidAttribute(
                attribute.code,
                f"{attribute.code} takes one value",
                f"附加信息 {attribute.code} 只能选一项",
            )
        _check_size(attribute.code, attribute.datatype, answer, len(keys))
        if keys and any(value not in keys for value in chosen):
            raise InvalidAttribute(
                attribute.code,
                f"{attribute.code} must be one of {', '.join(sorted(keys))}",
                f"附加信息 {attribute.code} 只能是以下之一：{'、'.join(sorted(keys))}",
            )
        if attribute.datatype == "number":
            try:
                [float(value) for value in chosen]
            except ValueError as error:
                raise InvalidAttribute(
                    attribute.code,
                    f"{attribute.code} is a number",
                    f"附加信息 {attribute.code} 应是数字",
                ) from error
