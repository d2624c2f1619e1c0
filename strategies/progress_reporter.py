"""Progress reporting for strategy scripts (the protocol of CONTRACT section 2).

A script creates one ``ProgressReporter`` and calls it as it goes::

    reporter = ProgressReporter()
    with reporter.stage("data_download"):
        for i, ticker in enumerate(tickers):
            reporter.report_progress(None, 10 + 80 * i / len(tickers), f"Fetching {ticker}",
                                     current_item=ticker, completed_items=i,
                                     total_items=len(tickers))
    reporter.result({"candidates": [...]})

With ``STRATEGY_PROGRESS=json`` in the environment (set by the runner) the calls write one
JSON object per line to stdout, flushed at once. Progress is coalesced (tqdm's ``mininterval``
idea): at most one progress line per ``min_interval`` (default 0.1 s; the argument, or the
environment variable ``STRATEGY_PROGRESS_MIN_INTERVAL`` in seconds; 0 writes every call). A
progress call that comes sooner is held back and replaced by the next one; the one held back is
written when the interval has passed (by a timer, even if the script is busy or waiting), before
any other line, and at exit. Never coalesced: the first progress of a stage (after the last one
of the previous stage), the first that reaches 100 %, log lines and the result. Without it (run by hand) nothing at all is
written to stdout: the script owns stdout and prints its own result. Progress and info logs are
then shown on stderr only when stderr is a terminal; warnings and errors always go to stderr.

Reporting must never take the strategy down: bad arguments are repaired (with a warning), data
that JSON cannot carry is converted, and a failure to write (closed pipe, bad encoding) turns the
reporter silent instead of raising.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import json
import math
import os
import sys
import threading
import time
from typing import Any, Iterator, Mapping, Optional, TextIO

__all__ = ["ProgressReporter", "PROGRESS_ENV_VAR", "MIN_INTERVAL_ENV_VAR"]

PROGRESS_ENV_VAR = "STRATEGY_PROGRESS"
MIN_INTERVAL_ENV_VAR = "STRATEGY_PROGRESS_MIN_INTERVAL"
#: Default shortest time between two progress lines in JSON mode (seconds).
DEFAULT_MIN_INTERVAL = 0.1
_NOT_WRITTEN = object()  # no progress line written yet: the first one is never held back

_LEVELS = ("debug", "info", "warning", "error")
# Human-readable progress on a terminal is redrawn at most this often (seconds).
_TTY_REDRAW_INTERVAL = 0.1


def _utc_now_iso() -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _json_default(obj: Any) -> Any:
    """Fallback for objects json cannot encode: keep the meaning, never fail."""
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", errors="replace")
    item = getattr(obj, "item", None)  # numpy scalars and similar
    if callable(item):
        try:
            return item()
        except Exception:  # noqa: BLE001 - fall through to str()
            pass
    try:
        return float(obj)  # Decimal, Fraction
    except Exception:  # noqa: BLE001
        return str(obj)


def _sanitize(value: Any) -> Any:
    """Slow path: make ``value`` encodable with allow_nan=False (NaN/Infinity -> None)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else str(k)): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_sanitize(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return _sanitize(_json_default(value))


def _dumps(event: Mapping[str, Any]) -> str:
    try:
        return json.dumps(event, separators=(",", ":"), allow_nan=False, default=_json_default)
    except (ValueError, TypeError, RecursionError):
        # NaN/Infinity somewhere, non-string keys, or a value whose fallback still fails.
        try:
            return json.dumps(_sanitize(event), separators=(",", ":"), allow_nan=False,
                              default=str)
        except (ValueError, TypeError, RecursionError) as exc:
            return json.dumps({"event_type": "log", "level": "error",
                               "message": f"progress_reporter: could not encode event: {exc}"})


class ProgressReporter:
    """Writes progress, log and result events for the runner, or stays out of the way.

    :param mode: ``"json"`` or ``"human"``; default: ``"json"`` when the environment variable
        ``STRATEGY_PROGRESS`` is ``json``, otherwise ``"human"``.
    :param stream: where JSON lines go; default ``sys.stdout`` (looked up at write time).
    :param err_stream: where human-readable output goes; default ``sys.stderr``.
    :param min_interval: shortest time between two progress lines in JSON mode, in seconds;
        default: ``STRATEGY_PROGRESS_MIN_INTERVAL`` from the environment, else 0.1. ``0`` writes
        every call.
    """

    def __init__(self, mode: Optional[str] = None, stream: Optional[TextIO] = None,
                 err_stream: Optional[TextIO] = None,
                 min_interval: Optional[float] = None) -> None:
        if mode is None:
            env = os.environ.get(PROGRESS_ENV_VAR, "").strip().lower()
            mode = "json" if env == "json" else "human"
        if mode not in ("json", "human"):
            raise ValueError(f"ProgressReporter mode must be 'json' or 'human' (got {mode!r})")
        self.mode = mode
        self._stream = stream
        self._err_stream = err_stream
        self._broken = False  # stdout failed once: stay silent from now on
        self._err_broken = False
        self._last_percent = 0.0
        self._stage: Optional[str] = None
        self._tty: Optional[bool] = None
        self._last_draw = 0.0
        self._line_open = False  # a "\r" progress line is on the terminal
        self._drawn_stage: Optional[str] = None
        self._reported_internal = False
        self.min_interval = self._checked_interval(min_interval)
        # Coalescing state (JSON mode). Writes come from the caller's thread and from the timer
        # that writes a held-back progress line, so they take the lock (reentrant: a warning
        # inside a call writes too).
        self._lock = threading.RLock()
        self._pending: Optional[dict[str, Any]] = None
        self._timer: Optional[threading.Timer] = None
        self._last_write = 0.0  # monotonic time of the last progress line written
        self._written_stage: Any = _NOT_WRITTEN
        self._written_percent = -1.0
        self._atexit = False

    @staticmethod
    def _checked_interval(min_interval: Optional[float]) -> float:
        if min_interval is None:
            raw = os.environ.get(MIN_INTERVAL_ENV_VAR, "").strip()
            try:
                min_interval = float(raw) if raw else DEFAULT_MIN_INTERVAL
            except ValueError:
                min_interval = DEFAULT_MIN_INTERVAL
        try:
            value = float(min_interval)
        except (TypeError, ValueError):
            return DEFAULT_MIN_INTERVAL
        return value if math.isfinite(value) and value > 0 else 0.0

    # -- public API ---------------------------------------------------------------------------

    @property
    def json_mode(self) -> bool:
        """True when events go to stdout as JSON lines (the script must not print its result)."""
        return self.mode == "json"

    @property
    def current_stage(self) -> Optional[str]:
        return self._stage

    @property
    def last_percent(self) -> float:
        """The highest percent reported so far (what the next event will at least carry)."""
        return self._last_percent

    def start_stage(self, name: str, percent: Optional[float] = None,
                    message: Optional[str] = None) -> None:
        """Mark the start of a stage; emits a progress event at ``percent`` (default: unchanged)."""
        self.report_progress(name, self._last_percent if percent is None else percent,
                             message if message is not None else f"Starting {name}")

    @contextlib.contextmanager
    def stage(self, name: str, percent: Optional[float] = None,
              message: Optional[str] = None) -> Iterator["ProgressReporter"]:
        """``with reporter.stage("analysis"):`` marks the stage for the calls inside."""
        self.start_stage(name, percent, message)
        yield self

    def report_progress(self, stage: Optional[str], percent: Any, message: Optional[str] = None,
                        current_item: Any = None, total_items: Any = None,
                        completed_items: Any = None,
                        metrics: Optional[Mapping[str, Any]] = None) -> None:
        """Report progress. ``stage=None`` keeps the current stage.

        ``percent`` is clamped to 0..100 (with a warning) and never goes below the highest
        percent already reported, so clients see a monotonic progress bar.
        """
        try:
            if stage is not None:
                self._stage = str(stage)
            pct = self._checked_percent(percent)
            event: dict[str, Any] = {"event_type": "progress", "timestamp": _utc_now_iso()}
            if self._stage is not None:
                event["stage"] = self._stage
            event["progress_percent"] = pct
            if message is not None:
                event["message"] = str(message)
            if current_item is not None:
                event["current_item"] = str(current_item)
            total = self._checked_count("total_items", total_items)
            if total is not None:
                event["total_items"] = total
            completed = self._checked_count("completed_items", completed_items)
            if completed is not None:
                event["completed_items"] = completed
            if metrics is not None:
                if isinstance(metrics, Mapping):
                    event["metrics"] = metrics
                else:
                    self._warn(f"metrics must be a mapping (got {type(metrics).__name__}); "
                               "ignored")
            if self.mode == "json":
                self._progress(event)
            else:
                self._draw(event)
        except Exception as exc:  # noqa: BLE001 - reporting must never kill the strategy
            self._internal_error(exc)

    def flush(self) -> None:
        """Writes the progress line held back by coalescing, if any (also done at exit)."""
        try:
            with self._lock:
                self._flush_pending()
        except Exception as exc:  # noqa: BLE001
            self._internal_error(exc)

    def log(self, message: Any, level: str = "info") -> None:
        """A log line: an event in JSON mode; on stderr otherwise (info only on a terminal)."""
        try:
            level = str(level).lower()
            if level == "warn":
                level = "warning"
            if level not in _LEVELS:
                level = "info"
            if self.mode == "json":
                self._write_now({"event_type": "log", "timestamp": _utc_now_iso(),
                                 "level": level, "message": str(message)})
            elif level in ("warning", "error") or self._is_tty():
                self._write_err(f"[{level}] {message}\n")
        except Exception as exc:  # noqa: BLE001
            self._internal_error(exc)

    def result(self, data: Any) -> None:
        """The run's result object. JSON mode only: standalone scripts print their own result."""
        try:
            if not isinstance(data, Mapping):
                self._warn(f"result data should be an object (got {type(data).__name__}); "
                           "wrapped as {\"value\": ...}")
                data = {"value": data}
            if self.mode == "json":
                self._write_now({"event_type": "result", "timestamp": _utc_now_iso(),
                                 "data": data})
            else:
                self._finish_line()
        except Exception as exc:  # noqa: BLE001
            self._internal_error(exc)

    # -- argument checks ----------------------------------------------------------------------

    def _checked_percent(self, percent: Any) -> float:
        try:
            pct = float(percent)
        except (TypeError, ValueError):
            self._warn(f"progress percent must be a number (got {percent!r}); kept at "
                       f"{self._last_percent}")
            return self._last_percent
        if math.isnan(pct):
            self._warn(f"progress percent is NaN; kept at {self._last_percent}")
            return self._last_percent
        if pct < 0.0 or pct > 100.0:
            self._warn(f"progress percent {percent!r} is outside 0..100; clamped")
            pct = 0.0 if pct < 0.0 else 100.0
        pct = round(pct, 2)
        if pct < self._last_percent:
            pct = self._last_percent
        self._last_percent = pct
        return pct

    def _checked_count(self, name: str, value: Any) -> Optional[int]:
        if value is None:
            return None
        try:
            count = int(value)
        except (TypeError, ValueError, OverflowError):
            self._warn(f"{name} must be an integer (got {value!r}); ignored")
            return None
        if count < 0:
            self._warn(f"{name} must be >= 0 (got {value!r}); ignored")
            return None
        return count

    # -- coalescing (JSON mode) ---------------------------------------------------------------

    def _progress(self, event: dict[str, Any]) -> None:
        with self._lock:
            now = time.monotonic()
            stage = event.get("stage")
            due = (self.min_interval <= 0
                   or stage != self._written_stage  # a stage change, or the very first line
                   or (event["progress_percent"] >= 100.0 > self._written_percent)
                   or now - self._last_write >= self.min_interval)
            if not due:
                self._pending = event  # the newest state replaces the one held back
                self._arm_timer(self.min_interval - (now - self._last_write))
                return
            if stage != self._written_stage:
                # The last state of the previous stage goes first: a stage is never cut short.
                self._flush_pending()
            else:
                # Same stage: this newer state supersedes the one held back.
                self._drop_pending()
            self._write_progress(event, now)

    def _write_now(self, event: Mapping[str, Any]) -> None:
        """A line that is never coalesced (log, result): after the held-back progress, in order."""
        with self._lock:
            self._flush_pending()
            self._write_json(event)

    def _write_progress(self, event: Mapping[str, Any], now: float) -> None:
        self._write_json(event)
        self._last_write = now
        self._written_stage = event.get("stage")
        self._written_percent = event["progress_percent"]

    def _drop_pending(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None

    def _flush_pending(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, None
        if pending is not None:
            # Stamped when written: nothing newer was reported meanwhile, so it is the state
            # as of now, and the stamp keeps meaning "when this line left the script".
            pending["timestamp"] = _utc_now_iso()
            self._write_progress(pending, time.monotonic())

    def _arm_timer(self, delay: float) -> None:
        if not self._atexit:
            # Whatever the script does last, what it reported is written before it exits.
            self._atexit = True
            atexit.register(self.flush)
        if self._timer is not None:
            return
        # A script busy (or waiting on the network) after a call still shows where it is.
        self._timer = threading.Timer(max(0.0, delay), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        try:
            with self._lock:
                self._timer = None
                if self._pending is not None:
                    self._flush_pending()
        except Exception as exc:  # noqa: BLE001
            self._internal_error(exc)

    # -- output -------------------------------------------------------------------------------

    def _write_json(self, event: Mapping[str, Any]) -> None:
        if self._broken:
            return
        line = _dumps(event) + "\n"
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(line)
            stream.flush()
        except BrokenPipeError:
            self._broken = True
            if stream is sys.stdout:
                # The reader is gone. Point fd 1 at /dev/null so the interpreter's final flush
                # does not print "Exception ignored ... BrokenPipeError" or exit with 120.
                try:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                    os.close(devnull)
                except (OSError, ValueError, AttributeError):
                    pass
        except (OSError, ValueError, UnicodeError, AttributeError):
            self._broken = True  # closed stream, encoding trouble: go quiet

    def _warn(self, message: str) -> None:
        self.log(f"progress_reporter: {message}", level="warning")

    def _is_tty(self) -> bool:
        if self._tty is None:
            stream = self._err_stream if self._err_stream is not None else sys.stderr
            try:
                self._tty = bool(stream.isatty())
            except (AttributeError, ValueError, OSError):
                self._tty = False
        return self._tty

    def _write_err(self, text: str) -> None:
        if self._err_broken:
            return
        stream = self._err_stream if self._err_stream is not None else sys.stderr
        try:
            if self._line_open:
                stream.write("\n")
                self._line_open = False
            stream.write(text)
            stream.flush()
        except (OSError, ValueError, UnicodeError, AttributeError):
            self._err_broken = True

    def _draw(self, event: Mapping[str, Any]) -> None:
        if not self._is_tty() or self._err_broken:
            return
        now = time.monotonic()
        pct = event["progress_percent"]
        stage_changed = event.get("stage") != self._drawn_stage
        if not stage_changed and pct < 100.0 and now - self._last_draw < _TTY_REDRAW_INTERVAL:
            return
        self._last_draw = now
        parts = [f"[{event.get('stage', '-')}] {pct:6.2f}%"]
        if "completed_items" in event and "total_items" in event:
            parts.append(f"({event['completed_items']}/{event['total_items']})")
        if "message" in event:
            parts.append(str(event["message"]))
        text = " ".join(parts)[:120]
        stream = self._err_stream if self._err_stream is not None else sys.stderr
        try:
            if stage_changed and self._line_open:
                stream.write("\n")
            stream.write("\r\x1b[K" + text)
            stream.flush()
            self._line_open = True
            self._drawn_stage = event.get("stage")
        except (OSError, ValueError, UnicodeError, AttributeError):
            self._err_broken = True

    def _finish_line(self) -> None:
        if self._line_open:
            self._write_err("")

    def _internal_error(self, exc: BaseException) -> None:
        # Last resort: a bug in the reporter itself. Say so once on stderr, keep the script going.
        if self._reported_internal:
            return
        self._reported_internal = True
        try:
            sys.stderr.write(f"progress_reporter: internal error ignored: {exc!r}\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
