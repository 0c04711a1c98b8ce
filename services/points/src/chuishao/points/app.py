"""points as a process: `python -m chuishao.points`."""

from chuishao.common.runtime import serve
from chuishao.points.bootstrap import bootstrap
from chuishao.points.settings import PointsSettings


def main() -> None:
    serve(bootstrap(PointsSettings()).runtime)
