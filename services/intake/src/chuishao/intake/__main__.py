import uvicorn

from chuishao.intake.app import create_app
from chuishao.intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
