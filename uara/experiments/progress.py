"""Progress of long work: a k/N counter with elapsed time and an ETA.

One :class:`Progress` per phase (the bounds of one method, the runs of a campaign). Each finished
item gives one line through ``log`` (plain text, so a test or a log file captures it), e.g.::

    [3/20 15%, 0:12 elapsed, ETA 0:57] relax bound m30_e8 slot 2: 1834.5521637 (4.1 s)

The ETA is the mean time per finished item times the items left (a campaign's runs differ in
length, so it is a guide, not a promise). Where ``log`` is None nothing is printed.
"""

from __future__ import annotations

import time
from typing import Callable


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (or ``h:mm:ss`` from an hour up)."""
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    """Counts finished items of a phase of ``total`` items and prefixes each line with k/N and the ETA."""

    def __init__(self, total: int, log: Callable[[str], None] | None, *, done: int = 0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.total = int(total)
        self.done = int(done)
        self._log = log
        self._now = now
        self._start = now()
        self._first = self.done  # items done before this process started do not count towards the rate

    def eta_s(self) -> float | None:
        """Seconds left at the mean rate so far (None before the first item of this process)."""
        finished = self.done - self._first
        if finished <= 0:
            return None
        return (self._now() - self._start) / finished * max(0, self.total - self.done)

    def prefix(self) -> str:
        """``[k/N p%, m:ss elapsed, ETA m:ss]``."""
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = self.eta_s()
        return (f"[{self.done}/{self.total} {pct:.0f}%, {clock(self._now() - self._start)} elapsed, "
                f"ETA {clock(eta) if eta is not None else '?'}]")

    def step(self, message: str) -> str:
        """Count one finished item and log ``message`` behind the counter; returns the line."""
        self.done += 1
        line = f"{self.prefix()} {message}"
        if self._log is not None:
            self._log(line)
        return line
