"""Every native HTTP refusal in the one shape, {"error": {code, message_zh, message_en,
field}}, whoever raised it: ApiError, a schema error, Starlette's own 404/405, the
lifecycle's refusals. Under /open311/ the spec's shape stays: a list of {code, description}.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from chuishao.common.errors import ApiError, ErrorDetail, ErrorResponse, error_body

OPEN311_PREFIX = "/open311/"
LOCATIONS = ("body", "query", "path", "header", "cookie")

# What a bare HTTP status means to the person who got it: (code, zh, en).
STATUS_ERRORS: dict[int, tuple[str, str, str]] = {
    400: (  # in practice: a body FastAPI cannot even decode
        "bad_request",
        "请求无法解析：请求体应是 UTF-8 编码的 JSON",
        "The request could not be read: send the body as UTF-8 JSON",
    ),
    401: (
        "key_required",
        "需要 API 密钥：请在 X-API-Key 请求头中提供",
        "An API key is needed: send it in the X-API-Key header",
    ),
    403: ("forbidden", "您无权执行这项操作", "You may not do this"),
    404: ("not_found", "找不到这个地址，请核对路径", "Nothing here; check the path"),
    405: (
        "method_not_allowed",
        "这个地址不支持此请求方法，请看 Allow 头列出的方法",
        "This path does not take this method; the Allow header lists the ones it takes",
    ),
    413: ("too_large", "请求太大，请缩小后重试", "The request is too large; send less"),
    415: ("unsupported_media_type", "请以 JSON 格式发送", "Send the body as JSON"),
    429: (
        "rate_limited",
        "请求太频繁，请按 Retry-After 头的秒数稍后再试",
        "Too many requests from you; retry after the seconds in the Retry-After header",
    ),
    503: (
        "unavailable",
        "服务正忙或暂时不可用，请按 Retry-After 头的秒数稍后重试",
        "Busy or briefly unavailable; retry after the seconds in the Retry-After header",
    ),
}
GENERAL = ("error", "请求未能完成", "The request could not be completed")
# Open311 takes form fields, not JSON: its 400 says so, with Starlette's reason.
OPEN311_UNREADABLE = (
    "The form could not be read ({reason}): send its fields form-encoded,"
    " as application/x-www-form-urlencoded or multipart/form-data"
)

# Documented on every native route (app.include_router): what any of them may answer.
NATIVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "A body that cannot be read"},
    422: {"model": ErrorResponse, "description": "A field to fix: `field` names the first"},
    429: {"model": ErrorResponse, "description": "Over this client's rate; see Retry-After"},
    503: {"model": ErrorResponse, "description": "At capacity or not confirmed; see Retry-After"},
}


def status_error(status: int, message_en: str | None = None) -> ErrorDetail:
    code, zh, en = STATUS_ERRORS.get(status, GENERAL)
    return ErrorDetail(code=code, message_zh=zh, message_en=message_en or en)


# A schema error, by pydantic's error type: what to fix, in Chinese ({field} and ctx filled).
VALIDATION_ZH: dict[str, str] = {
    "missing": "请填写 {field}",
    "extra_forbidden": "不认识的字段 {field}，请删掉它",
    "string_too_long": "{field} 太长：最多 {max_length} 个字符",
    "string_too_short": "{field} 太短：至少 {min_length} 个字符",
    "too_long": "{field} 太多：最多 {max_length} 项",
    "too_short": "{field} 太少：至少 {min_length} 项",
    "greater_than_equal": "{field} 不能小于 {ge}",
    "greater_than": "{field} 必须大于 {gt}",
    "less_than_equal": "{field} 不能大于 {le}",
    "less_than": "{field} 必须小于 {lt}",
    "enum": "{field} 只能是以下之一：{expected}",
    "literal_error": "{field} 只能是以下之一：{expected}",
    "string_pattern_mismatch": "{field} 的格式不对",
    "url_parsing": "{field} 不是有效的网址",
    "url_scheme": "{field} 的网址应以 http:// 或 https:// 开头",
    "url_type": "{field} 应是一个网址",
    "json_invalid": "请求体不是有效的 JSON，请检查括号、引号和逗号",
    "json_type": "请求体应是一个 JSON 对象",
    "model_attributes_type": "{field} 应是一个 JSON 对象",
    "dict_type": "{field} 应是一个 JSON 对象",
    "list_type": "{field} 应是一个列表",
    "string_type": "{field} 应是文字",
    "int_parsing": "{field} 应是整数",
    "int_type": "{field} 应是整数",
    "float_parsing": "{field} 应是数字",
    "float_type": "{field} 应是数字",
    "finite_number": "{field} 应是有限的数字",
    "bool_parsing": "{field} 应是 true 或 false",
    "datetime_parsing": "{field} 应是 ISO 8601 时间，如 2026-01-05T09:00:00+08:00",
    "datetime_from_date_parsing": "{field} 应是 ISO 8601 时间，如 2026-01-05T09:00:00+08:00",
    "value_error": "{field} 的值无效：{reason}",
    "control_character": "{field} 不能含控制字符（如 NUL）：第 {position} 个字符 {char}",
    "attribute_too_large": "附加信息 {code} 太大：最多 {limit}（字符或个值），请缩短",
}


def field_path(loc: Sequence[int | str]) -> str | None:
    """("body", "attributes", "vehicle") → "attributes.vehicle"; the request body itself → None."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or None


def _not_json(first: dict[str, Any], body: Any) -> ErrorDetail:
    """A body that is not JSON: where it breaks, and no field (FastAPI puts the offset
    where a field's name goes: `{"a":` once came back as field "5")."""
    loc, context = first.get("loc", ()), first.get("ctx") or {}
    reason = str(context.get("error") or first.get("msg", "")).removeprefix("Invalid JSON: ")
    zh, en = VALIDATION_ZH["json_invalid"], f"The body is not valid JSON ({reason})"
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if loc and isinstance(loc[-1], int) and isinstance(body, str):
        offset = loc[-1]
        line = body.count("\n", 0, offset) + 1
        column = offset - body.rfind("\n", 0, offset)
        zh = f"请求体不是有效的 JSON（第 {line} 行第 {column} 列），请检查括号、引号和逗号"
        en = f"The body is not valid JSON (line {line}, column {column}: {reason})"
    return ErrorDetail(code="invalid", message_zh=zh, message_en=en)


def validation_detail(errors: Sequence[Any], body: Any = None) -> ErrorDetail:
    """The first failing field and what to do about it; fixing one, the client sees the next."""
    if not errors:
        return ErrorDetail(
            code="invalid", message_zh="请求无效", message_en="The request is invalid"
        )
    first = dict(errors[0])
    if first.get("type") == "json_invalid":
        return _not_json(first, body)
    field = field_path(first.get("loc", ()))
    kind = str(first.get("type", ""))
    message = str(first.get("msg", "invalid"))
    reason = message.removeprefix("Value error, ")
    context = {str(k): v for k, v in (first.get("ctx") or {}).items()}
    template = VALIDATION_ZH.get(kind, "{field} 的值无效，请检查")
    try:
        zh = template.format(field=field or "请求体", reason=reason, **context)
    except (KeyError, IndexError, ValueError):
        zh = VALIDATION_ZH["value_error"].format(field=field or "请求体", reason=reason)
    en = f"{field}: {reason}" if field else reason
    return ErrorDetail(code="invalid", message_zh=zh, message_en=en, field=field)


def _open311(request: Request) -> bool:
    return request.url.path.startswith(OPEN311_PREFIX)


def render(
    request: Request, status: int, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> Response:
    if _open311(request):  # GeoReport v2: a list of {code, description}
        return JSONResponse(
            [{"code": status, "description": detail.message_en}], status, headers=headers
        )
    return JSONResponse(error_body(detail), status, headers=headers)


async def api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return render(request, error.status, error.detail, error.headers)


async def invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return render(request, 422, validation_detail(error.errors(), error.body))


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's and FastAPI's own refusals (an unknown path, a wrong method)."""
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    # Their English details ("Not Found") say less than ours; ours for the known statuses.
    own = None if error.status_code in STATUS_ERRORS else str(error.detail)
    if error.status_code == 400 and _open311(request):  # a form Starlette could not read
        own = OPEN311_UNREADABLE.format(reason=str(error.detail).rstrip("."))
    return render(request, error.status_code, status_error(error.status_code, own), headers)


METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Starlette's 405 names only the first matching route's methods; several routes may
    share a path (GET and POST /open311/v2/requests.json), so name them all: each method
    the app's routes fully match at this path (routes of included routers too)."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
