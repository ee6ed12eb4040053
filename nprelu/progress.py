"""The one reporting helper: progress lines on a terminal, silence elsewhere.

Library code never prints. It calls a :class:`Progress` (or the ``quiet`` one), which writes a
self-overwriting status line to stderr only when stderr is a terminal, and logs finished steps
through :func:`log` (stderr, always), so CI logs and pipes stay clean. Worker processes that
share one terminal turn the status lines off (:func:`status_lines`) and keep the log lines.
"""
from __future__ import annotations

import sys
import time

_STATUS_LINES = True


def status_lines(enabled: bool) -> None:
    """Allow (the default) or forbid the self-overwriting status lines in this process."""
    global _STATUS_LINES
    _STATUS_LINES = bool(enabled)


def format_seconds(s) -> str:
    """A duration for people: "42.0 s", "3m05s", "1h02m"; an em dash when it is not a number."""
    try:
        s = max(float(s), 0.0)
    except (TypeError, ValueError):
        return "—"
    if s != s or s == float("inf"):
        return "—"
    if s < 60:
        return f"{s:.1f} s"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s"


def log(message: str, stream=None) -> None:
    """A finished-step line on stderr (the caller decides what is worth saying)."""
    stream = stream or sys.stderr
    stream.write(message + "\n")
    stream.flush()


class Progress:
    """A status line ``label  done/total  elapsed  ~left`` shown only on a terminal."""

    def __init__(self, label: str, total: int, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = (_STATUS_LINES and self.stream.isatty()) if enabled is None else enabled
        self.label, self.total, self.done = label, max(int(total), 1), 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1, info: str = "") -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.2 and self.done < self.total:
            return
        self._last = now
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        self.stream.write(f"\r{self.label} {self.done}/{self.total} {format_seconds(elapsed)} "
                          f"~{format_seconds(left)} left {info}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class Quiet(Progress):
    """A progress that never writes."""

    def __init__(self, label: str = "", total: int = 1):
        super().__init__(label, total, enabled=False)
