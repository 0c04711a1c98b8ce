"""Checks a report's answers against its category's Open311 attribute definitions."""

from chuishao.common.catalogue import Category


class InvalidAttribute(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check(category: Category, answers: dict[str, str | list[str]]) -> None:
    defined = {attribute.code: attribute for attribute in category.attributes}
    for code in answers:
        if code not in defined:
            raise InvalidAttribute(code, f"{category.code} has no attribute {code!r}")
    for attribute in category.attributes:
        answer = answers.get(attribute.code)
        if answer in (None, "", []):
            if attribute.required:
                raise InvalidAttribute(attribute.code, f"attribute {attribute.code} is required")
            continue
        keys = {key for key, _ in attribute.values}
        chosen = answer if isinstance(answer, list) else [answer]
        if attribute.datatype == "singlevaluelist" and len(chosen) != 1:
            raise InvalidAttribute(attribute.code, f"{attribute.code} takes one value")
        if keys and any(value not in keys for value in chosen):
            raise InvalidAttribute(
                attribute.code, f"{attribute.code} must be one of {', '.join(sorted(keys))}"
            )
        if attribute.datatype == "number":
            try:
                [float(value) for value in chosen]
            except ValueError as error:
                raise InvalidAttribute(attribute.code, f"{attribute.code} is a number") from error
