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
        # uvicorn's loggers go up to the root handler configure_logging installed, which
        # masks residents' numbers in every line, tracebacks of a 500 included.
        log_config=None,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
