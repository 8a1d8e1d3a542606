"""Rate limits shared by every process, in Redis: GCRA in one atomic Lua script.

GCRA (the generic cell rate algorithm) keeps one number per key, the "theoretical arrival time"
(TAT): the moment by which the key's budget is fully spent at the steady rate. A request
conforms when TAT minus the burst allowance is not in the future. Compared with a sliding
window it stores one key, not one entry per request, and it spaces requests evenly instead of
letting a whole window's worth through at each boundary. The clock is Redis's (TIME), so web
processes on different hosts agree.

`reserve=True` books a slot even for a request over the limit and answers when that slot comes:
webhooks over their limit are stored anyway and scheduled for that moment, so a noisy
installation's excess drains at exactly its rate while others go straight through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

KEY_PREFIX = "devmetrics:ratelimit:"

# KEYS[1] the key; ARGV: emission interval (ms per request), burst (requests), reserve (0/1).
# Returns {allowed, remaining, retry_after_ms, reset_ms}.
GCRA_LUA = """
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local reserve = ARGV[3] == '1'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
local allowed = allow_at <= now
if allowed or reserve then
    redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
end
if allowed then
    return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
end
return {0, 0, allow_at - now, tat - now}
"""

# Books ARGV[3] consecutive slots at once (reserve semantics), for a batch of webhooks of one
# installation: one round trip instead of one per delivery. KEYS[1] the key; ARGV: emission
# interval (ms), burst. Returns the first slot's TAT minus now, as a string (Lua numbers
# returned as integers would be truncated, and the interval need not be whole milliseconds).
GCRA_RESERVE_MANY_LUA = """
local interval = tonumber(ARGV[1])
local count = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval * count
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
return tostring(tat - now)
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until this request conforms (0 when allowed)
    reset: float  # seconds until the full budget is back

    def headers(self) -> dict[str, str]:
        """IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers), plus Retry-After on 429."""
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(math.ceil(self.reset))}
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(GCRA_LUA)
        self._reserve_many = redis.register_script(GCRA_RESERVE_MANY_LUA)

    async def hit(self, key: str, *, per_minute: int, reserve: bool = False,
                  period_seconds: float = 60.0) -> Decision:
        """Count one request against `key`'s budget of `per_minute` (with a burst of as many);
        `period_seconds` stretches or shrinks the minute (GitHub's pacing window is a setting)."""
        interval = period_seconds * 1000 / per_minute
        allowed, remaining, retry_ms, reset_ms = await self._script(
            keys=[KEY_PREFIX + key], args=[interval, per_minute, int(reserve)])
        return Decision(allowed=bool(allowed), limit=per_minute, remaining=max(int(remaining), 0),
                        retry_after=float(retry_ms) / 1000, reset=float(reset_ms) / 1000)

    async def reserve_many(self, key: str, count: int, *, per_minute: int,
                           period_seconds: float = 60.0) -> list[Decision]:
        """`count` reserving hits in one round trip: the same decisions, in order, as `count`
        calls of `hit(..., reserve=True)` made at one instant."""
        interval = period_seconds * 1000 / per_minute
        tolerance = interval * per_minute
        first = float(await self._reserve_many(keys=[KEY_PREFIX + key],
                                               args=[interval, per_minute, count]))
        decisions = []
        for j in range(count):
            tat = first + j * interval  # this request's slot, relative to now
            new_tat = tat + interval
            allow_at = new_tat - tolerance
            if allow_at <= 0:
                decisions.append(Decision(
                    allowed=True, limit=per_minute,
                    remaining=max(math.floor((tolerance - new_tat) / interval), 0),
                    retry_after=0.0, reset=new_tat / 1000))
            else:
                decisions.append(Decision(allowed=False, limit=per_minute, remaining=0,
                                          retry_after=allow_at / 1000, reset=tat / 1000))
        return decisions
