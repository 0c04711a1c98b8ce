"""Open311's two formats and its error list; a format or request error raised anywhere
under a route is answered here, in the format asked for (JSON when that is unknown)."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal
from xml.etree import ElementTree

import orjson
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from chuishao.common.domain import xml_text

Row = dict[str, Any]
Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _format(fmt: str) -> Format:
    """The `.json` / `.xml` extension of every route, checked once."""
    for known in FORMATS:
        if fmt == known:
            return known
    raise Open311Error(404, f"unknown format .{fmt}; use .json or .xml")


# A route's `fmt: Fmt` parameter: the checked extension.
Fmt = Annotated[Format, Depends(_format)]


class Open311Route(APIRoute):
    """Renders an `Open311Error` as the spec's error list, so routes only raise it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answering(request: Request) -> Response:
            try:
                return await handler(request)
            except Open311Error as error:
                fmt = request.path_params.get("fmt")
                return errors("xml" if fmt == "xml" else "json", error.code, error.description)

        return answering


def _xml(root: str, item: str, rows: list[Row]) -> bytes:
    top = ElementTree.Element(root)
    for row in rows:
        element = ElementTree.SubElement(top, item)
        _fill(element, row)
    body: bytes = ElementTree.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def _fill(element: ElementTree.Element, row: Row) -> None:
    for key, value in row.items():
        child = ElementTree.SubElement(element, key)
        if isinstance(value, list):
            singular = {"attributes": "attribute", "values": "value"}.get(key, "item")
            for entry in value:
                _fill(ElementTree.SubElement(child, singular), entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            # Whatever a record holds, the document stays well-formed: a character XML
            # cannot carry (NUL, other controls) is written as U+FFFD.
            child.text = xml_text(str(value))


def render(fmt: str, root: str, item: str, rows: list[Row], status_code: int = 200) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, rows), status_code, media_type="text/xml; charset=utf-8")
    return Response(orjson.dumps(rows), status_code, media_type="application/json")


def render_one(fmt: str, root: str, row: Row) -> Response:
    if fmt == "xml":
        element = ElementTree.Element(root)
        _fill(element, row)
        body: bytes = ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
        return Response(body, 200, media_type="text/xml; charset=utf-8")
    return Response(orjson.dumps(row), 200, media_type="application/json")


def errors(fmt: str, code: int, description: str) -> Response:
    return render(fmt, "errors", "error", [{"code": code, "description": description}], code)


def documented(*codes: int, created: bool = False) -> dict[int | str, dict[str, Any]]:
    """Open311 answers lists in JSON or XML; errors are lists of {code, description}."""
    error_list = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        },
    }
    xml = {"text/xml": {"schema": {"type": "string"}}}
    answers: dict[int | str, dict[str, Any]] = {
        201 if created else 200: {
            "description": "JSON or XML, as the extension asks",
            "content": {"application/json": {"schema": {}}, **xml},
        },
    }
    for code in (*codes, 503):
        answers[code] = {
            "description": "A list of errors",
            "content": {"application/json": {"schema": error_list}, **xml},
        }
    return answers
