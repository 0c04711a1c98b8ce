"""What keeps notify from pestering residents: quiet hours and a per-recipient rate limit.
Both answer "not now, but at this moment", so nothing is dropped, only held."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from chuishao.notify import keys as redis_keys


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    timezone: ZoneInfo

    def holds_until(self, now: datetime) -> datetime | None:
        """When the quiet ends, if `now` falls inside it; None if a message may go now."""
        local = now.astimezone(self.timezone)
        clock = local.time().replace(tzinfo=None)
        wraps = self.start > self.end  # e.g. 22:00-07:00 crosses midnight
        if wraps:
            inside = clock >= self.start or clock < self.end
        else:
            inside = self.start <= clock < self.end
        if not inside:
            return None
        before_midnight = wraps and clock >= self.start
        end_day = local.date() + timedelta(days=1) if before_midnight else local.date()
        return datetime.combine(end_day, self.end, tzinfo=self.timezone)


_RESERVE = """
local over = 0
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[i * 2]) end
  if count > tonumber(ARGV[i * 2 - 1]) then over = i end
end
if over > 0 then
  for _, key in ipairs(KEYS) do redis.call('DECR', key) end
end
return over
"""


class RateLimiter:
    """Fixed windows in local time (an hour, a day) per recipient, checked atomically."""

    def __init__(self, redis: Redis, timezone: ZoneInfo, limits: dict[int, int]) -> None:
        self.redis = redis
        self.timezone = timezone
        self.limits = limits  # window length in seconds -> messages allowed in it
        self._reserve = redis.register_script(_RESERVE)

    async def reserve(self, recipient: str, now: datetime) -> datetime | None:
        """Take one message from every window; if any is full, take none and say when the
        full window ends."""
        local = now.astimezone(self.timezone)
        offset = local.utcoffset() or timedelta()
        local_seconds = now.timestamp() + offset.total_seconds()
        keys: list[str] = []
        args: list[int] = []
        ends: list[datetime] = []
        for window, limit in sorted(self.limits.items()):
            index = int(local_seconds // window)
            keys.append(redis_keys.rate_window(recipient, window, index))
            args += [limit, window * 2]
            ends.append(
                datetime.fromtimestamp((index + 1) * window - offset.total_seconds(), now.tzinfo)
            )
        over = int(await self._reserve(keys=keys, args=args))
        return ends[over - 1] if over else None
