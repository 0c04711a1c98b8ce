"""Builds the notify service as a FastStream app."""

import random

from faststream import FastStream

from chuishao.common.clock import Clock
from chuishao.common.logging import configure_logging
from chuishao.common.metrics import expose_metrics
from chuishao.notify.service import NotifyService
from chuishao.notify.settings import NotifySettings

PRODUCER = "notify"


def create_app(
    settings: NotifySettings | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> FastStream:
    settings = settings or NotifySettings()
    settings.refuse_known_secrets()
    logger = configure_logging(PRODUCER, settings.log_level, settings.log_format)
    service = NotifyService(settings, logger, clock, rng)
    app = FastStream(service.broker, logger=logger)
    expose_metrics(app, service.broker, PRODUCER)
    app.on_startup(service.prepare)
    app.after_startup(service.start_sweeping)
    app.on_shutdown(service.stop_sweeping)
    app.after_shutdown(service.close)
    return app
