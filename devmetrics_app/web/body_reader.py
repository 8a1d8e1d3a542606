"""Reading an unverified request body without letting strangers spend the server's memory.

Anyone can POST to the webhook endpoint, and the signature can only be checked once the whole
body is in memory. Bodies are read into a buffer that refuses to grow past the cap, and a body
larger than LARGE_BODY_BYTES must first take one of a few slots: however many large bodies
arrive at once, only LARGE_BODY_SLOTS of them are held in memory; the others wait, unread, in
their sockets (aiohttp stops reading a connection whose buffer is full).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

LARGE_BODY_BYTES = 1 << 20
LARGE_BODY_SLOTS = 4
# GitHub gives up on a delivery after 10 s; waiting longer for a slot helps nobody.
SLOT_WAIT_SECONDS = 10.0

LARGE_BODY_SLOTS_KEY = web.AppKey("large_body_slots", asyncio.Semaphore)


class BodyTooLarge(Exception):
    """The body is larger than the cap."""


class NoSlot(Exception):
    """Every slot for large bodies stayed taken for SLOT_WAIT_SECONDS."""


def new_large_body_slots() -> asyncio.Semaphore:
    return asyncio.Semaphore(LARGE_BODY_SLOTS)


async def read_capped(request: web.Request, *, max_bytes: int) -> bytearray:
    """The whole body, or BodyTooLarge / NoSlot; the slot is given back once it is read.

    The buffer itself is returned: a copy to `bytes` would double a stranger's body in memory
    before its signature is checked."""
    slots = request.app[LARGE_BODY_SLOTS_KEY]
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise BodyTooLarge
    if declared is not None and declared <= LARGE_BODY_BYTES:
        # Every GitHub delivery: its length is known and small (aiohttp reads no more than the
        # declared length as this body), so no slot is needed and the loop can be plain.
        buffer = bytearray()
        while chunk := await request.content.readany():
            buffer += chunk
        return buffer
    buffer = bytearray()
    async with contextlib.AsyncExitStack() as held:
        has_slot = False
        if declared is not None and declared > LARGE_BODY_BYTES:
            await _take(slots, held)
            has_slot = True
        async for chunk in request.content.iter_any():
            size = len(buffer) + len(chunk)
            if size > max_bytes:
                raise BodyTooLarge
            if size > LARGE_BODY_BYTES and not has_slot:
                # A chunked body gives no length up front: it takes a slot when it grows large.
                await _take(slots, held)
                has_slot = True
            buffer += chunk
        return buffer


async def _take(slots: asyncio.Semaphore, held: contextlib.AsyncExitStack) -> None:
    try:
        async with asyncio.timeout(SLOT_WAIT_SECONDS):
            await slots.acquire()
    except TimeoutError:
        raise NoSlot from None
    held.callback(slots.release)
