"""A shaped message link over a local TCP socket: rate and one-way delay, a token bucket in the sender.

A message of B bytes handed over at time t starts its transmission at max(t, end of the previous
one), occupies the link for 8 B / rate seconds and is due at the receiver one-way delay after that:
FIFO, a token bucket of depth one message. The sender writes the frame at once, stamped with its due
time; the receiver (:class:`Receiver`) holds it until then, so the delay does not depend on a thread
waking up while the model computes on the same core. Both processes read one clock
(``time.perf_counter`` is CLOCK_MONOTONIC, system-wide on Linux). :meth:`ShapedSender.cancel` aborts
frames of an ended lineage still in transmission (the PSD rule), freeing the link at once; the
receiver drops such frames on arrival, without waiting for them.

Frames: a 40-byte header (:data:`HEADER`) and the payload bytes.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

#: kind (B), lineage (i), start position a (i), block size m (H), accepted k (H), token (i),
#: payload bytes (I), handed-over time (d), due time (d), padding to 40 bytes
HEADER = struct.Struct("<BiiHHiIdd3x")
assert HEADER.size == 40
HEADER_BITS = 8 * HEADER.size

KIND_BLOCK, KIND_VERDICT, KIND_CONTROL = 1, 2, 3


@dataclass
class Frame:
    kind: int
    lineage: int = 0
    a: int = 0
    m: int = 0
    k: int = 0
    token: int = 0
    payload: bytes = b""
    sent_s: float = 0.0
    due_s: float = 0.0
    received_s: float = 0.0
    idle: bool = False  # released to a receiver that was waiting for it (not busy when it came due)

    def pack(self) -> bytes:
        return HEADER.pack(self.kind, self.lineage, self.a, self.m, self.k, self.token, len(self.payload),
                           self.sent_s, self.due_s) + self.payload


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("link closed")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> Frame:
    """Block until a whole frame is in (not waiting for its due time)."""
    head = recv_exact(sock, HEADER.size)
    kind, lineage, a, m, k, token, n, sent, due = HEADER.unpack(head)
    payload = recv_exact(sock, n) if n else b""
    return Frame(kind, lineage, a, m, k, token, payload, sent, due, time.perf_counter())


class ShapedSender:
    """Send frames at ``rate_bps`` with ``delay_s`` one-way latency (module docstring); inf rate = unshaped."""

    def __init__(self, sock: socket.socket, rate_bps: float, delay_s: float):
        self.sock, self.rate, self.delay = sock, float(rate_bps), float(delay_s)
        self.free_at = 0.0
        self.log: list[tuple[float, float, float, int, int]] = []  # (handed over, tx start, tx end, bytes, lineage)

    def send(self, frame: Frame) -> None:
        now = time.perf_counter()
        n = 8 * (len(frame.payload) + HEADER.size)
        start = max(now, self.free_at)
        end = start + (n / self.rate if self.rate != float("inf") else 0.0)
        self.free_at = end
        frame.sent_s, frame.due_s = now, end + self.delay
        self.sock.sendall(frame.pack())
        self.log.append((now, start, end, n // 8, frame.lineage))

    def cancel(self, lineage_below: int) -> int:
        """Abort frames of lineages < ``lineage_below`` still in transmission; returns how many."""
        now = time.perf_counter()
        aborted = [row for row in self.log if row[4] < lineage_below and row[2] > now]
        if aborted:
            kept_end = max((row[2] for row in self.log if row not in aborted), default=now)
            self.free_at = max(now, min(kept_end, self.free_at))
            self.log = [row for row in self.log if row not in aborted] + [
                (h, s, now, b, lin) for h, s, _, b, lin in aborted]  # they occupied the link until now
        return len(aborted)


#: seconds a blocking read waits for a frame before it gives up (:class:`LinkStalled`): no run of the testbed
#: leaves a link silent this long, so a stall is a protocol bug, reported instead of hanging the run
STALL_S = 120.0


class LinkStalled(ConnectionError):
    """Nothing arrived on a link for :data:`STALL_S` seconds while its reader waited for a frame."""


class Receiver:
    """Frames from the socket, each released at its due time; ``drop(frame)`` says which to release at once
    (and discard) because the sender aborted it. A blocking read that sees nothing for ``stall_s`` seconds
    raises :class:`LinkStalled`."""

    def __init__(self, sock: socket.socket, drop: Callable[[Frame], bool] | None = None, stall_s: float = STALL_S):
        self.sock = sock
        self.drop = drop or (lambda f: False)
        self.pending: deque = deque()
        self.stall_s = float(stall_s)

    def _read_available(self, block: bool) -> None:
        while True:
            blocking = block and not self.pending
            ready = select.select([self.sock], [], [], self.stall_s if blocking else 0)[0]
            if not ready:
                if blocking:
                    raise LinkStalled(f"link stalled: no frame for {self.stall_s:g} s while waiting for one")
                return
            self.pending.append(recv_frame(self.sock))
            block = False

    def poll(self) -> Frame | None:
        """A frame that is due now, without blocking (None if none)."""
        self._read_available(block=False)
        if self.pending and (self.pending[0].kind == KIND_CONTROL or self.pending[0].due_s <= time.perf_counter()):
            return self._release(self.pending.popleft())
        return None

    def wait(self) -> Frame:
        """The next frame, sleeping until it is due."""
        while True:
            if not self.pending:
                self._read_available(block=True)
            f = self.pending[0]
            if f.kind != KIND_CONTROL and not self.drop(f):
                delay = f.due_s - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                    f.idle = True
            return self._release(self.pending.popleft())

    @staticmethod
    def _release(f: Frame) -> Frame:
        f.received_s = max(time.perf_counter(), f.due_s) if f.kind != KIND_CONTROL else time.perf_counter()
        return f


def tune(sock: socket.socket) -> None:
    """No Nagle delay; buffers large enough that a sender never blocks on a busy receiver (a PEARL block
    of a 49152-token vocabulary is ~0.5 MB)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, 16 * 2**20)
