"""One error shape for every native HTTP answer and every NATS reply:

    {"error": {"code": "...", "message_zh": "...", "message_en": "...", "field": "..."}}

(NATS replies add `"ok": false` beside it.) Open311 keeps its own spec shape, a list of
{code, description}. Messages tell the person what to do, in Chinese first; codes are
stable identifiers for programs and never name internal classes or commands.
"""

from typing import Any

from pydantic import BaseModel, ValidationError, field_validator


def encodable(text: str) -> str:
    """The text with what UTF-8 cannot carry (a lone surrogate, as JSON's "\\ud800"
    decodes to) written as its escape, so no renderer fails on it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ErrorDetail(BaseModel):
    code: str
    message_zh: str
    message_en: str
    field: str | None = None

    # Messages echo what a caller sent (a field name, an attribute code); an unencodable
    # echo once turned a 422 into a plain-text 500. Every renderer (HTTP, Open311, NATS
    # replies) gets text it can encode.
    @field_validator("code", "message_zh", "message_en", "field")
    @classmethod
    def _encodable(cls, value: str | None) -> str | None:
        return None if value is None else encodable(value)


class ErrorResponse(BaseModel):
    """The body of every native 4xx/5xx answer (documented in the OpenAPI schema)."""

    error: ErrorDetail


class ApiError(Exception):
    """Raised anywhere below an entry point; the entry point renders it in the one shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.status = status
        self.detail = ErrorDetail(
            code=code, message_zh=message_zh, message_en=message_en, field=field
        )
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.detail)


def error_body(detail: ErrorDetail) -> dict[str, Any]:
    return {"error": detail.model_dump(mode="json")}


def nats_error_reply(detail: ErrorDetail) -> dict[str, Any]:
    """A NATS request's refusal: the same object as HTTP, with `ok: false`."""
    return {"ok": False, **error_body(detail)}


def nats_refusal(
    code: str, message_zh: str, message_en: str, field: str | None = None
) -> dict[str, Any]:
    """A NATS request's refusal built from its fields (never from an exception's repr)."""
    return nats_error_reply(
        ErrorDetail(code=code, message_zh=message_zh, message_en=message_en, field=field)
    )


def invalid_request(exc: ValidationError) -> ErrorDetail:
    """A request body the model refused: the first offending field, said plainly. (Intake's
    HTTP layer has a richer wording per error type, chuishao.intake.http_errors.)"""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    where = f"{field}: " if field else ""
    return ErrorDetail(
        code="invalid",
        message_zh=f"请求内容不符合要求，请检查{f'字段 {field}' if field else '请求格式'}",
        message_en=f"The request is not valid: {where}{first['msg']}",
        field=field,
    )
