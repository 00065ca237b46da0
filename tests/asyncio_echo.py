#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""An asyncio echo server and client exchanging 10,000 messages over TCP loopback.

Run under the shim (LD_PRELOAD=.../librust_epoll_preload.so), asyncio's selector is an epoll
that lives on /dev/rust_epoll. Prints TAP; checks that every message came back intact and that
the selector really was the device (its epoll fd is /dev/rust_epoll's character device).
"""
import asyncio
import os
import selectors
import stat
import sys

MESSAGES = 10_000


async def handle(reader, writer):
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()


async def main():
    loop = asyncio.get_running_loop()
    selector = loop._selector  # the event loop's epoll
    st = os.fstat(selector.fileno())
    on_device = stat.S_ISCHR(st.st_mode)
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bad = 0
    for i in range(MESSAGES):
        msg = f"message {i}\n".encode()
        writer.write(msg)
        await writer.drain()
        if await reader.readline() != msg:
            bad += 1
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return on_device, bad


if __name__ == "__main__":
    want_device = "--device" in sys.argv
    on_device, bad = asyncio.run(main())
    print("TAP version 13")
    print("1..2")
    print(f"{'ok' if bad == 0 else 'not ok'} 1 asyncio echo: {MESSAGES} messages, {bad} wrong")
    ok = on_device == want_device
    where = "/dev/rust_epoll" if on_device else "native epoll"
    print(f"{'ok' if ok else 'not ok'} 2 asyncio's selector is {where}")
    sys.exit(0 if bad == 0 and ok else 1)
