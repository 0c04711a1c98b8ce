"""The console's web app over its runtime, and the process."""

from fastapi import FastAPI

from chuishao.common.clock import Clock
from chuishao.common.runtime import serve_http
from chuishao.console import web
from chuishao.console.bootstrap import bootstrap
from chuishao.console.settings import ConsoleSettings


def create_app(settings: ConsoleSettings | None = None, clock: Clock | None = None) -> FastAPI:
    return web.create_app(bootstrap(settings or ConsoleSettings(), clock=clock))


def serve(settings: ConsoleSettings) -> None:
    serve_http(
        create_app(settings),
        settings.console_http_host,
        settings.console_http_port,
        # Live streams (SSE) never end by themselves; do not wait long for them.
        timeout_graceful_shutdown=2,
    )
