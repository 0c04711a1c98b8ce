"""The router as a process: `python -m chuishao.router`."""

from chuishao.common.runtime import serve
from chuishao.router.bootstrap import bootstrap
from chuishao.router.settings import RouterSettings


def main() -> None:
    serve(bootstrap(RouterSettings()).runtime)
