"""How a service's event loop runs: on uvloop, as uvicorn already runs intake and
supervision. The broker services spend most of their time in socket writes and
callbacks, which uvloop does in C."""

from collections.abc import Coroutine
from typing import Any

import uvloop


def serve(main: Coroutine[Any, Any, None]) -> None:
    uvloop.run(main)
