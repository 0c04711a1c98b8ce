from pathlib import Path

from chuishao.common.settings import ServiceSettings

DATA = Path(__file__).parent / "data"


class RouterSettings(ServiceSettings):
    directory_file: Path = DATA / "directory.toml"
