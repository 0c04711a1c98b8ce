"""sla as a process: `python -m chuishao.sla`."""

from chuishao.common.runtime import serve
from chuishao.sla.bootstrap import bootstrap
from chuishao.sla.settings import SlaSettings


def main() -> None:
    serve(bootstrap(SlaSettings()).runtime)
