"""Probes from outside (ADV) of the residents' points page (/r/points): the one-time SMS
code's send throttle holds under a burst of parallel sends (each send is a text message
and five fresh tries at the code), and parallel guesses share one count of five.

The console runs on real servers; notify's SMS answer is stood in for by a responder on
its subject that counts the codes asked for (notify itself is tested elsewhere)."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.console.phone_codes import CodeOutcome, CodeRule, PhoneCodes
from support.console import ConsoleHarness, running_console
from support.intake import PERSON_SECRET
from support.servers import Servers

pytestmark = pytest.mark.usefixtures("clean")
MINE = "13900005555"


@pytest.fixture
async def console(servers: Servers, nc: Client) -> AsyncIterator[tuple[ConsoleHarness, list[Msg]]]:
    texts: list[Msg] = []

    async def sent(message: Msg) -> None:
        texts.append(message)
        await message.respond(b'{"ok": true, "channel": "sms"}')

    await nc.subscribe(subjects.NOTIFY_VERIFICATION_CODE, cb=sent)
    await nc.flush()
    async with running_console(servers.nats_url, servers.redis_url) as harness:
        yield harness, texts


async def post(console: ConsoleHarness, path: str, **fields: str) -> httpx.Response:
    return await console.http.post(
        path, data={**fields, "csrf_token": console.csrf()}, headers={"Accept": "text/html"}
    )


async def test_a_burst_of_parallel_sends_gets_no_more_codes_than_the_throttle_allows(
    console: tuple[ConsoleHarness, list[Msg]],
) -> None:
    harness, texts = console
    assert (await harness.http.get("/r/points", headers={"Accept": "text/html"})).is_success
    burst = [post(harness, "/r/points/code", phone=MINE) for _ in range(12)]
    answers = await asyncio.gather(*burst)
    statuses = sorted(a.status_code for a in answers)
    # Three sends per number per window (CodeRule.sends_per_phone), however many arrive
    # together: before, all twelve passed a check made before any was counted.
    assert statuses == [200] * 3 + [429] * 9, statuses
    assert len(texts) == 3
    assert "过于频繁" in next(a.text for a in answers if a.status_code == 429)
    # The same number in other digits (full-width, Arabic-Indic): Python's \d takes them,
    # and each was a number of its own with a throttle of its own. Refused as no number.
    for variant in ("13９00005555", "１３９００００５５５５", "139٠٠٠٠5555"):
        other = await post(harness, "/r/points/code", phone=variant)
        assert other.status_code == 422, (variant, other.status_code)
    assert len(texts) == 3


async def test_parallel_guesses_share_one_count_of_five(redis: Redis) -> None:
    codes = PhoneCodes(redis, "probe", PERSON_SECRET, CodeRule())
    code = await codes.issue(MINE)
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 41)]
    checked = await asyncio.gather(*(codes.check(MINE, guess) for guess in wrong))
    outcomes = [c.outcome for c in checked]
    assert outcomes.count(CodeOutcome.WRONG) == 4, outcomes  # the fifth ends the code
    assert CodeOutcome.CONFIRMED not in outcomes
    # The right code after them: too late, the code is gone.
    late = await codes.check(MINE, code)
    assert late.outcome in (CodeOutcome.EXPIRED, CodeOutcome.TOO_MANY_TRIES)


class IssueBeforeDelete:
    """The console's Redis, with one interleaving forced: a new code is issued just
    before the first DELETE a check sends (a resident asking for a code while someone
    tries a number that has none)."""

    def __init__(self, redis: Redis, codes: PhoneCodes) -> None:
        self.redis = redis
        self.codes = codes
        self.issued: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.redis, name)

    async def delete(self, *keys: str) -> int:
        if not self.issued:
            self.codes.redis = self.redis  # the issue itself runs as usual
            self.issued.append(await self.codes.issue(MINE))
        return int(await self.redis.delete(*keys))


async def test_a_guess_at_a_number_without_a_code_never_removes_a_fresh_code(
    redis: Redis,
) -> None:
    codes = PhoneCodes(redis, "probe-race", PERSON_SECRET, CodeRule())
    await redis.delete(codes._code_key(MINE))
    racing = IssueBeforeDelete(redis, codes)
    codes.redis = racing  # type: ignore[assignment]
    assert (await codes.check(MINE, "000000")).outcome == CodeOutcome.EXPIRED
    codes.redis = redis
    if racing.issued:  # the check deleted something after the code was issued: not it
        assert (await codes.check(MINE, racing.issued[0])).outcome == CodeOutcome.CONFIRMED
    else:  # the check changed nothing: no key of its own left behind either
        assert not await redis.exists(codes._code_key(MINE))
