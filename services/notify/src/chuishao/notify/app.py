"""Notify as a process: `python -m chuishao.notify`."""

from chuishao.common.runtime import serve
from chuishao.notify.bootstrap import bootstrap
from chuishao.notify.settings import NotifySettings


def main() -> None:
    serve(bootstrap(NotifySettings()).runtime)
