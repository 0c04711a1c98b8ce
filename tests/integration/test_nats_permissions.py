"""The shipped NATS accounts, on a real nats-server with the generated configuration: a
unit reads only its own subjects, sends only its own commands, and cannot make a service
(or the server itself) publish anywhere for it by naming a reply subject."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig
from redis.asyncio import Redis

from chuishao.common.catalogue import publish_catalogue
from chuishao.common.replies import unit_inbox_prefix
from chuishao.common.streams import provision
from chuishao.common.units import publish_units
from chuishao.devstack.nats_auth import (
    SERVICES_USER,
    UNIT_JS_PREFIX,
    accounts_block,
    new_passwords,
    provision_unit_feeds,
    unit_consumer,
    unit_user,
)
from chuishao.embedded import NatsServer, free_port
from support.intake import CATEGORIES, UNITS, running_intake
from support.servers import Servers

OWN, OTHER = "grid-heyuan", "bus-yunxi"
# Where the probe made intake publish its reply: another unit's feed, the ticket stream,
# the unit directory and the category catalogue.
FORGED_REPLIES = (
    f"dept.{OTHER}.dispatched.FORGED",
    "ticket.submitted.FORGED",
    f"$KV.units.{OWN}",
    "$KV.catalogue.fire_box",
)
Secured = tuple[NatsServer, dict[str, str]]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    passwords = new_passwords([OWN, OTHER])
    server = NatsServer(
        free_port(),
        Path(tmp_path_factory.mktemp("secured")),
        sync_interval="2m",
        extra_config=accounts_block([OWN, OTHER], passwords),
    )
    with server:
        yield server, passwords


async def connect(secured: Secured, unit: str | None, errors: list[str]) -> Client:
    server, passwords = secured

    async def record(error: Exception) -> None:
        errors.append(str(error))

    if unit is None:
        return await nats.connect(
            server.url, user=SERVICES_USER, password=passwords[SERVICES_USER], error_cb=record
        )
    return await nats.connect(
        server.url,
        user=unit_user(unit),
        password=passwords[unit_user(unit)],
        inbox_prefix=unit_inbox_prefix(unit),
        error_cb=record,
    )


@pytest.fixture
async def services(secured: Secured) -> AsyncIterator[Client]:
    """The services' connection, with fresh streams, both units' feeds, the directory and
    the catalogue in place."""
    connection = await connect(secured, None, [])
    js = connection.jetstream()
    for stream in await js.streams_info():
        await js.delete_stream(stream.config.name or "")
    await provision(js)
    await provision_unit_feeds(js, [OWN, OTHER])
    await publish_units(js, UNITS)
    await publish_catalogue(js, CATEGORIES)
    yield connection
    await connection.close()


async def delivered(publisher: Client, subscription: Subscription, subject: str) -> bool:
    """Whether a message on `subject` reaches `subscription` within about two seconds.

    Core NATS is at most once: even after a flush, the first publish on a fresh
    connection is now and then dropped (about 3 in 100 here, with or without
    permissions), so one try cannot tell "not allowed" from "dropped"."""
    for attempt in range(10):
        await publisher.publish(subject, f"try {attempt}".encode())
        await publisher.flush()
        try:
            await subscription.next_msg(timeout=0.2)
        except nats.errors.TimeoutError:
            continue
        return True
    return False


async def nothing_pending(connection: Client, *spies: Subscription) -> list[str]:
    """The subjects the spies hold once the server has sent this connection all it had:
    a PING answered means every message before it arrived."""
    await connection.flush()
    held = []
    for spy in spies:
        while True:
            try:
                message = await spy.next_msg(timeout=0.01)
            except nats.errors.TimeoutError:
                break
            held.append(message.subject)
    return held


async def test_a_unit_reads_only_its_own_subjects(secured: Secured, services: Client) -> None:
    errors: list[str] = []
    unit = await connect(secured, OWN, errors)
    own = await unit.subscribe(f"dept.{OWN}.>")
    await unit.flush()
    assert await delivered(services, own, f"dept.{OWN}.dispatched.T1"), errors
    # The refused subscription comes last: the server's error may make the client
    # reconnect, and a message published meanwhile would be missed by `own` too.
    foreign = await unit.subscribe(f"dept.{OTHER}.>")
    await unit.flush()
    assert not await delivered(services, foreign, f"dept.{OTHER}.dispatched.T1")
    assert f'nats: permissions violation for subscription to "dept.{OTHER}.>"' in errors
    await unit.close()


async def test_a_unit_sends_only_its_own_commands(secured: Secured, services: Client) -> None:
    errors: list[str] = []
    foreign = await services.subscribe(f"cmd.unit.{OTHER}.>")
    own = await services.subscribe(f"cmd.unit.{OWN}.>")
    await services.flush()
    unit = await connect(secured, OWN, errors)
    assert await delivered(unit, own, f"cmd.unit.{OWN}.acknowledge"), errors
    assert not await delivered(unit, foreign, f"cmd.unit.{OTHER}.acknowledge")
    assert f'nats: permissions violation for publish to "cmd.unit.{OTHER}.acknowledge"' in errors
    await unit.close()


async def test_a_unit_consumes_its_own_durable_feed_and_no_other(
    secured: Secured, services: Client
) -> None:
    js = services.jetstream()
    await js.publish(f"dept.{OWN}.dispatched.T9", b"durable for own")
    await js.publish(f"dept.{OTHER}.dispatched.T9", b"durable for other")
    errors: list[str] = []
    unit = await connect(secured, OWN, errors)
    feed_api = unit.jetstream(prefix=UNIT_JS_PREFIX)
    feed = await feed_api.pull_subscribe_bind(unit_consumer(OWN), stream="UNITS")
    [message] = await feed.fetch(1, timeout=5)
    assert (message.subject, message.data) == (f"dept.{OWN}.dispatched.T9", b"durable for own")
    await message.ack_sync()
    info = await feed_api.consumer_info("UNITS", unit_consumer(OWN))
    assert (info.num_ack_pending, info.config.filter_subject) == (0, f"dept.{OWN}.>")
    # Refused last (see above): another unit's consumer, and creating one of its own.
    with pytest.raises((nats.js.errors.Error, nats.errors.Error)):
        await feed_api.consumer_info("UNITS", unit_consumer(OTHER), timeout=1)
    with pytest.raises((nats.js.errors.Error, nats.errors.Error)):
        await feed_api.add_consumer(
            "UNITS",
            ConsumerConfig(durable_name=unit_consumer(OWN), filter_subject=f"dept.{OWN}.>"),
            timeout=1,
        )
    await unit.close()


async def refused(unit: Client, subject: str, body: bytes = b"") -> bool:
    """True unless the request is answered with something other than an error."""
    try:
        answer = await unit.request(subject, body, timeout=0.5)
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
        return True
    return "error" in json.loads(answer.data or b"{}")


async def test_stream_wide_reads_are_refused(secured: Secured, services: Client) -> None:
    """STREAM.INFO with a subjects filter listed every unit's ticket ids; nothing that
    reads the stream as a whole is open to a unit, under either API prefix."""
    await services.jetstream().publish(f"dept.{OTHER}.dispatched.T7", b"for other")
    errors: list[str] = []
    unit = await connect(secured, OWN, errors)
    everything = json.dumps({"subjects_filter": ">"}).encode()
    first = json.dumps({"seq": 1}).encode()
    probes = [
        (f"{prefix}.{api}", body)
        for prefix in ("$JS.API", UNIT_JS_PREFIX)
        for api, body in (
            ("STREAM.INFO.UNITS", everything),
            ("STREAM.NAMES", b""),
            ("STREAM.LIST", b""),
            ("STREAM.MSG.GET.UNITS", first),
            ("CONSUMER.LIST.UNITS", b""),
            ("CONSUMER.NAMES.UNITS", b""),
            ("INFO", b""),
        )
    ] + [(f"$JS.API.DIRECT.GET.UNITS.dept.{OTHER}.dispatched.T7", b"")]
    answers = await asyncio.gather(*(refused(unit, subject, body) for subject, body in probes))
    assert [subject for (subject, _), no in zip(probes, answers, strict=True) if not no] == []
    assert 'nats: permissions violation for publish to "$js.api.stream.info.units"' in errors
    await unit.close()


async def test_a_unit_cannot_make_anyone_publish_for_it(secured: Secured, services: Client) -> None:
    """The probe's attack: a unit's own command, JetStream API request or ack, naming as
    reply subject another unit's feed, the ticket stream or a KV entry. The responder here
    answers on whatever reply subject it is given (as intake did): the accounts alone must
    keep the answer in the unit's own account."""
    js = services.jetstream()
    units_kv, catalogue_kv = await js.key_value("units"), await js.key_value("catalogue")
    before = [(await units_kv.get(OWN)).revision, (await catalogue_kv.get("fire_box")).revision]
    tickets_before = (await js.stream_info("TICKETS")).state.messages

    async def answer_anywhere(message: Msg) -> None:
        await services.publish(message.reply, b'{"ok": false, "error": {}}')

    await services.subscribe(f"cmd.unit.{OWN}.>", cb=answer_anywhere)
    spies = [
        await services.subscribe(f"dept.{OTHER}.>"),
        await services.subscribe("ticket.>"),
        await services.subscribe("$KV.>"),
    ]
    await js.publish(f"dept.{OWN}.dispatched.T5", b"for own")
    await services.flush()
    errors: list[str] = []
    unit = await connect(secured, OWN, errors)
    feed = f"{UNIT_JS_PREFIX}.CONSUMER"
    for reply in FORGED_REPLIES:
        await unit.publish(f"cmd.unit.{OWN}.acknowledge", b"{}", reply=reply)
        await unit.publish(f"{feed}.INFO.UNITS.{unit_consumer(OWN)}", b"", reply=reply)
        await unit.publish(
            f"{feed}.MSG.NEXT.UNITS.{unit_consumer(OWN)}", b'{"batch": 1}', reply=reply
        )
    await unit.flush()
    # A legitimate request after the forged ones: its answer comes after theirs.
    answer = await unit.request(f"cmd.unit.{OWN}.acknowledge", b"{}", timeout=5)
    assert answer.subject.startswith(f"{unit_inbox_prefix(OWN)}.")
    assert await nothing_pending(services, *spies) == []
    after = [(await units_kv.get(OWN)).revision, (await catalogue_kv.get("fire_box")).revision]
    assert after == before
    assert (await js.stream_info("TICKETS")).state.messages == tickets_before
    other_feed = await js.stream_info("UNITS", subjects_filter=f"dept.{OTHER}.>")
    assert "FORGED" not in " ".join(other_feed.state.subjects or {})
    assert errors == []
    await unit.close()


async def test_intake_answers_a_unit_across_accounts(
    secured: Secured, services: Client, servers: Servers
) -> None:
    """The real intake behind the accounts: a unit's command is answered in its inbox, and
    another unit is told nothing about the ticket."""
    server, passwords = secured
    redis = Redis.from_url(servers.redis_url)
    await redis.flushall()
    await redis.aclose()
    url = f"nats://{SERVICES_USER}:{passwords[SERVICES_USER]}@127.0.0.1:{server.port}"
    async with running_intake(url, servers.redis_url, services.jetstream()) as intake:
        ticket_id = await intake.submit()
        await intake.dispatch(ticket_id, OWN)
        own, other = await connect(secured, OWN, []), await connect(secured, OTHER, [])
        body = json.dumps({"ticket_id": ticket_id}).encode()
        answer = await own.request(f"cmd.unit.{OWN}.acknowledge", body, timeout=10)
        assert json.loads(answer.data)["ticket"]["status"] == "in_progress"
        stranger = json.loads(
            (await other.request(f"cmd.unit.{OTHER}.acknowledge", body, timeout=10)).data
        )
        assert stranger["error"]["code"] == "not_found"
        assert "in_progress" not in json.dumps(stranger)
        await own.close()
        await other.close()
