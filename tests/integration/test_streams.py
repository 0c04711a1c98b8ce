import pytest
from nats.js import JetStreamContext

from chuishao.common import streams

pytestmark = pytest.mark.usefixtures("clean")


async def test_provisioning_twice_changes_nothing(js: JetStreamContext) -> None:
    await streams.provision(js)
    first = {s.config.name: s.config for s in await js.streams_info()}
    await js.publish("ticket.submitted.T1", b"{}")
    await streams.provision(js)
    again = {s.config.name: s.config for s in await js.streams_info()}
    photos = {f"OBJ_{b.bucket}" for b in streams.PHOTO_BUCKETS} | {"KV_photos-index"}
    assert first.keys() == again.keys() == {c.name for c in streams.STREAMS} | photos
    assert first == again  # the photo buckets too: declared once, unchanged
    assert {"TICKETS", "UNITS", "DEADLETTER"} <= first.keys()
    assert (await js.stream_info("TICKETS")).state.messages == 1
    for name, spec in streams.CONSUMERS.items():
        info = await js.consumer_info(spec.stream, name)
        assert info.config.max_deliver == spec.max_deliver
        assert info.config.filter_subjects == list(spec.filter_subjects)


async def test_a_repeated_message_id_is_stored_once(js: JetStreamContext) -> None:
    await streams.provision(js)
    first = await js.publish("ticket.submitted.T1", b"{}", headers={"Nats-Msg-Id": "same"})
    again = await js.publish("ticket.submitted.T1", b"{}", headers={"Nats-Msg-Id": "same"})
    assert again.duplicate
    assert first.seq == again.seq
    assert (await js.stream_info("TICKETS")).state.messages == 1
