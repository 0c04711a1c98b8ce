"""A Redis client that counts what it does, for tests that a path does not grow with the
number of tickets: round trips (single commands and executed pipelines) and the longest
list any reply carried."""

from typing import Any

from redis.asyncio import Redis


class CountingRedis(Redis):
    trips = 0
    longest = 0

    @classmethod
    def zero(cls) -> None:
        cls.trips = cls.longest = 0

    @classmethod
    def note(cls, reply: Any) -> None:
        if isinstance(reply, list):
            cls.longest = max(cls.longest, len(reply))

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.trips += 1
        reply = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        self.note(reply)
        return reply

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> list[Any]:
            CountingRedis.trips += 1
            replies = await execute(raise_on_error)
            for reply in replies:
                self.note(reply)
            return replies

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe
