"""Start-up steps ride through a nats-server restart (chuishao.common.transient): the
errors JetStream gives while it recovers are retried; a real fault is not."""

import nats.js.errors
import pytest
from redis.exceptions import AuthenticationError

from chuishao.common import transient


@pytest.mark.parametrize(
    "error",
    [
        # A restarted server that has not recovered the stream yet (found by the fault
        # suite: the router's catalogue publish at start-up died on it).
        nats.js.errors.NoStreamResponseError(),
        nats.js.errors.ServiceUnavailableError(),
    ],
)
async def test_jetstream_recovering_is_retried(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transient, "backoff", lambda: iter([0.0] * 10))
    tries = 0

    async def step() -> str:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise error
        return "done"

    assert await transient.retried(step, "publish catalogue") == "done"
    assert tries == 3


async def test_a_real_fault_is_not_retried() -> None:
    async def step() -> str:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await transient.retried(step, "publish catalogue")


async def test_a_wrong_redis_password_is_not_retried() -> None:
    """redis-py raises a wrong password as a subclass of its ConnectionError, which is
    transient otherwise: a minute of retries would hide a setting that can never work."""
    tries = 0

    async def step() -> str:
        nonlocal tries
        tries += 1
        raise AuthenticationError("WRONGPASS invalid username-password pair")

    with pytest.raises(AuthenticationError):
        await transient.retried(step, "connect")
    assert tries == 1
