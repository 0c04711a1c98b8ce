"""The rebuild's batched fold (supervision.rebuild_fold) writes exactly what the live
projection writes event by event: every key, counter, set, sorted set and fact, on a real
Redis, for streams that cross batch boundaries mid-ticket, interleave tickets, fire many
hotspot warnings (more than the recent list keeps), blow more whistles than the recent
list keeps, and move overdue tickets between streets."""

import heapq
import random
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from chuishao.common.domain import ClockKind, Level, Whistle
from chuishao.common.events import Event
from chuishao.supervision.hotspots import HotspotRule
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.live_batch import apply_batch
from chuishao.supervision.projection import RECENT_HOTSPOTS, RECENT_WHISTLES, Projection
from chuishao.supervision.rebuild import clear, differences, snapshot
from chuishao.supervision.rebuild_fold import RebuildFold
from support.monthly_history import generated
from support.supervision import Script, scripted_day

ZONE = ZoneInfo("Asia/Shanghai")
# Low, so a few reports in a grid fire and the quiet hour ends often.
RULE = HotspotRule(threshold=2, window_seconds=3600.0, jump_factor=1.0, trailing_windows=3)


def busy(seed: int) -> Script:
    """Bursts of reports in few grids (many warnings), whistles on most tickets, and
    overdue tickets handed to a unit of another street."""
    rng = random.Random(seed)
    s = Script("B")
    streets = {"qingshi": ("HY-01", "HY-02"), "liuan": ("LY-01",)}
    for n in range(260):
        name = f"{n:03d}"
        street = rng.choice(sorted(streets))
        grid = rng.choice(streets[street])
        category = rng.choice(("fire_box", "road_damage"))
        at = rng.uniform(0, 30)
        s.submit(name, at, category, grid)
        s.dispatch(name, at + 0.01, f"grid-{street}", category=category, street=street, grid=grid)
        s.whistle(name, at + 0.02, Whistle.DAILY, f"grid-{street}")
        s.arm(name, at + 0.03, ClockKind.RESOLUTION, Level.COMMUNITY, 2)
        if rng.random() < 0.4:
            s.breach(name, at + 2.5, ClockKind.RESOLUTION, Level.COMMUNITY, at + 2.03)
            if rng.random() < 0.5:  # handed to the other street while overdue
                other = "liuan" if street == "qingshi" else "qingshi"
                s.dispatch(
                    name, at + 3, f"grid-{other}", category=category, street=other, grid=grid
                )
            if rng.random() < 0.5:
                s.ack(name, at + 3.5, f"grid-{street}")
                s.resolve(name, at + 4, f"grid-{street}")
    return s


def interleaved(scripts: list[Script]) -> list[Event]:
    """The scripts' events with tickets interleaved as a stream holds them: each ticket's
    in order, the next one taken by its time."""
    queues: dict[str, list[Event]] = {}
    for script in scripts:
        for event in script.events:
            queues.setdefault(event.ticket_id, []).append(event)
    heads = [(queue[0].occurred_at, ticket_id, 0) for ticket_id, queue in queues.items()]
    heapq.heapify(heads)
    out: list[Event] = []
    while heads:
        _, ticket_id, index = heapq.heappop(heads)
        out.append(queues[ticket_id][index])
        if index + 1 < len(queues[ticket_id]):
            following = queues[ticket_id][index + 1]
            heapq.heappush(heads, (following.occurred_at, ticket_id, index + 1))
    return out


async def test_the_batched_rebuild_writes_what_the_live_projection_writes(redis: Redis) -> None:
    events = interleaved([busy(3), generated(seed=5, tickets=90), scripted_day("D")])
    live_keys = SupervisionKeys("fold-live")
    await clear(redis, live_keys)
    live = Projection(redis, live_keys, ZONE, RULE, emit=False)
    for event in events:
        await live.apply(event)
    expected = await snapshot(redis, live_keys)
    # The stream exercises what the fold must get right, not an easy subset of it.
    assert len(expected["hotspots"]) == RECENT_HOTSPOTS
    assert len(expected["whistles"]) == RECENT_WHISTLES
    assert {name.split(":")[0] for name in expected} >= {"overdue", "hotspot", "ticket"}

    for batch in (1, 7, 500):
        folded_keys = SupervisionKeys(f"fold-batched-{batch}")
        await clear(redis, folded_keys)
        fold = RebuildFold(redis, folded_keys, ZONE, RULE)
        for start in range(0, len(events), batch):
            await fold.apply(events[start : start + batch])
        await fold.flush()
        assert differences(expected, await snapshot(redis, folded_keys)) == [], batch
        # A batch applied again (a redelivered fetch) changes nothing.
        await fold.apply(events[-batch:])
        await fold.flush()
        assert differences(expected, await snapshot(redis, folded_keys)) == [], batch


async def test_live_batches_write_what_the_live_projection_writes_event_by_event(
    redis: Redis,
) -> None:
    """The live consumer's batches (supervision.live_batch): the same keys as one event at
    a time, for batches cut anywhere, and the same warnings sent."""
    events = interleaved([busy(4), generated(seed=6, tickets=60), scripted_day("L")])
    one_keys = SupervisionKeys("batch-one")
    await clear(redis, one_keys)
    one = Projection(redis, one_keys, ZONE, RULE)
    sent = [warning for event in events for warning in await one.apply(event)]
    expected = await snapshot(redis, one_keys)
    assert len(sent) > RECENT_HOTSPOTS  # many verdicts, several in one batch

    rng = random.Random(11)
    for size in (1, 7, 64, 0):
        batched_keys = SupervisionKeys(f"batch-{size}")
        await clear(redis, batched_keys)
        batched = Projection(redis, batched_keys, ZONE, RULE)
        warnings = []
        start = 0
        while start < len(events):
            step = size or rng.randint(1, 40)  # 0: cut at random places
            warnings += await apply_batch(batched, events[start : start + step])
            start += step
        assert differences(expected, await snapshot(redis, batched_keys)) == [], size
        assert [w.event_id for w in warnings] == [w.event_id for w in sent], size
        # A batch delivered again (a redelivered fetch) changes nothing and sends nothing.
        assert await apply_batch(batched, events[-50:]) == []
        assert differences(expected, await snapshot(redis, batched_keys)) == [], size
