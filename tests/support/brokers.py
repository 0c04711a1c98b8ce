"""A service runtime's broker for a test's own durable consumer."""

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from chuishao.common import streams
from chuishao.common.broker import make_broker
from chuishao.common.logging import configure_logging
from chuishao.common.settings import ServiceSettings
from support.servers import Servers


async def broker_for(
    spec: streams.ConsumerSpec,
    servers: Servers,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> NatsBroker:
    """A broker as the services make it, `spec` registered among the consumers (for this
    test only) and provisioned; subscribe to it, then start it."""
    monkeypatch.setitem(streams.CONSUMERS, spec.name, spec)
    await streams.provision(js, (spec,))
    return make_broker(ServiceSettings(nats_url=servers.nats_url), configure_logging("test"))
