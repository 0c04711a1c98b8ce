"""Hypothesis-made garbage through the real NATS subjects, with every service running:
commands get a structured rejection, events land in the dead letters with the reason;
nothing crashes and nothing is half-stored."""

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from redis import Redis

from chuishao.common.delivery import REASON_HEADER
from chuishao.common.events import EVENT_TYPES
from chuishao.common.replies import unit_inbox_prefix
from chuishao.common.streams import CONSUMERS
from chuishao.intake.lifecycle import VERBS
from support.servers import Servers
from support.stack import ServiceProcesses

pytestmark = pytest.mark.e2e
T = TypeVar("T")
KINDS = sorted({event.kind for event in EVENT_TYPES})
SENT: Counter[str] = Counter()
PLACED_TYPES = [event for event in EVENT_TYPES if "location" in event.model_fields]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def bad_payloads(draw: st.DrawFn) -> bytes:
    """Malformed JSON, the wrong shape, a future schema version, wrong types, too long."""
    kind = draw(st.sampled_from(["bytes", "json", "future", "wrong_type", "oversized", "no_place"]))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=200)).replace(b"{", b"")
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    # A bad coordinate only where a coordinate belongs: on any other type the extra field
    # is ignored and the event is a good one (TicketResidentReplied needs nothing more).
    event = draw(st.sampled_from(PLACED_TYPES if kind == "no_place" else EVENT_TYPES))
    body: dict[str, Any] = {
        "event_id": "e",
        "type": event.__name__,
        "schema_version": 1,
        "ticket_id": "T1",
        "occurred_at": "2026-01-05T09:00:00+00:00",
        "correlation_id": "c",
        "causation_id": None,
        "producer": "fuzz",
    }
    if kind == "future":
        body["schema_version"] = draw(st.integers(2, 99))
    elif kind == "wrong_type":
        body[draw(st.sampled_from(sorted(body)))] = draw(st.lists(st.integers(), max_size=2))
    elif kind == "no_place":  # NaN or infinity where a coordinate belongs
        body["location"] = {"lat": draw(NOT_A_NUMBER), "long": 116.4}
    else:
        body |= {"description": "长" * 4001, "occurred_at": "not a time"}
    return json.dumps(body).encode()


NOT_A_NUMBER = st.sampled_from([float("nan"), float("inf"), float("-inf")])
CONTROL = st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\ud800", "\ufffe"])


@st.composite
def hostile_reports(draw: st.DrawFn) -> bytes:
    """A report right in every way but one: a coordinate that is no number, a control
    character in its text, an answer or a list far too large."""
    report: dict[str, Any] = {
        "category": "fire_box",
        "description": "消防箱玻璃碎了",
        "location": {"lat": 39.9, "long": 116.4, "address": "和园小区"},
        "channel": "snap_it",
    }
    flaw = draw(st.sampled_from(["coordinate", "text", "answer", "list"]))
    if flaw == "coordinate":
        report["location"][draw(st.sampled_from(["lat", "long"]))] = draw(NOT_A_NUMBER)
    elif flaw == "text":
        field = draw(st.sampled_from(["description", "address"]))
        where = report["location"] if field == "address" else report
        where[field] = where[field] + draw(CONTROL)
    elif flaw == "answer":
        # Up to 900 KB: under NATS's 1 MB, so it is intake that must refuse it.
        report["attributes"] = {"q": "长" * draw(st.integers(4001, 300_000))}
    else:
        report["attributes"] = {"q": ["a"] * draw(st.integers(101, 150_000))}
    # NaN and Infinity as JavaScript writes them; UTF-8, not \u escapes.
    return json.dumps(report, ensure_ascii=False).encode("utf-8", "surrogatepass")


class Loop:
    """An event loop in a thread, so synchronous hypothesis tests can drive async NATS."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


@pytest.fixture(scope="module")
def wire(own_servers: Servers, stack: ServiceProcesses) -> Iterator[tuple[Loop, Client]]:
    loop = Loop()
    # As departments connect: a unit's commands are answered only on its own inbox
    # (chuishao.common.replies); cmd.submit answers any _INBOX.
    connection = loop.run(
        nats.connect(own_servers.nats_url, inbox_prefix=unit_inbox_prefix("grid-heyuan"))
    )
    yield loop, connection
    loop.run(connection.close())
    loop.close()


def matches(pattern: str, subject: str) -> bool:
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=bad_payloads(), kind=st.sampled_from(KINDS), n=st.integers(0, 10**6))
def test_bad_events_are_dead_lettered(
    wire: tuple[Loop, Client], payload: bytes, kind: str, n: int
) -> None:
    loop, connection = wire
    subject = f"ticket.{kind}.FUZZ{n}"
    loop.run(connection.jetstream().publish(subject, payload))
    SENT[subject] += 1


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=bad_payloads(), verb=st.sampled_from([*VERBS, "submit"]))
def test_bad_commands_get_a_structured_rejection(
    wire: tuple[Loop, Client], payload: bytes, verb: str
) -> None:
    loop, connection = wire
    subject = "cmd.submit" if verb == "submit" else f"cmd.unit.grid-heyuan.{verb}"
    reply = json.loads(loop.run(connection.request(subject, payload, timeout=10)).data)
    assert reply["ok"] is False
    assert reply["error"]["code"] in (
        "invalid",
        "unknown_category",
        "invalid_attribute",
        "not_found",
        "forbidden",
    )
    SENT["commands"] += 1


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=hostile_reports())
def test_hostile_reports_get_a_structured_rejection(
    wire: tuple[Loop, Client], payload: bytes
) -> None:
    loop, connection = wire
    reply = json.loads(loop.run(connection.request("cmd.submit", payload, timeout=10)).data)
    assert reply["ok"] is False
    assert reply["error"]["code"] == "invalid", reply
    SENT["commands"] += 1


def test_every_bad_event_is_in_the_dead_letters_and_nothing_was_stored(
    wire: tuple[Loop, Client], own_servers: Servers, stack: ServiceProcesses
) -> None:
    loop, connection = wire
    expected = Counter(
        {
            name: sum(
                count
                for subject, count in SENT.items()
                if any(matches(f, subject) for f in spec.filter_subjects)
            )
            for name, spec in CONSUMERS.items()
            # The TICKETS consumers of the services this stack runs (points runs with
            # `make run`, not in the test stacks).
            if spec.stream == "TICKETS" and name.split("-")[0] in stack.services
        }
    )

    async def dead_letters() -> Counter[str]:
        js = connection.jetstream()
        found: Counter[str] = Counter()
        sub = await js.subscribe("dlq.>", stream="DEADLETTER", ordered_consumer=True)
        total = (await js.stream_info("DEADLETTER")).state.messages
        for _ in range(total):
            msg = await sub.next_msg(timeout=5)
            assert msg.headers is not None
            assert msg.headers[REASON_HEADER] == "unprocessable"
            found[msg.subject.split(".", 1)[1]] += 1
        await sub.unsubscribe()
        return found

    for _ in range(100):
        found = loop.run(dead_letters())
        if found == +expected:
            break
        loop.run(asyncio.sleep(0.3))
    assert found == +expected
    redis = Redis.from_url(own_servers.redis_url)
    assert list(redis.scan_iter("ticket:T*")) == []
    redis.close()
    for name, process in stack.processes.items():
        assert process.poll() is None, f"{name} died"
    print(
        f"\nbad events: {sum(v for k, v in SENT.items() if k != 'commands')}, "
        f"bad commands: {SENT['commands']}, dead letters: {sum(found.values())}"
    )
