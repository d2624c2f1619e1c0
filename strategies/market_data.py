"""Daily OHLCV data for the screeners, from one of two providers.

* ``SyntheticProvider``: deterministic, realistic-looking prices from a seed per ticker. Each
  ticker gets its own drift, volatility, starting price and volume level, and its drift changes
  regime once or twice (so trends start and end, and moving averages cross). The per-ticker seed
  comes from SHA-256 of ``"<seed>:<TICKER>"``, never from Python's randomised ``hash()``, so the
  same parameters give the same bars on every machine and every run.
* ``CsvProvider``: ``<data_dir>/<TICKER>.csv`` with the header ``Date,Open,High,Low,Close,Volume``
  (dates ``YYYY-MM-DD``, any order). A missing file, or one with no rows up to ``end_date``,
  raises ``MissingData`` (the screeners skip that ticker); a malformed file raises ``DataError``
  naming the file and line (the run fails: the folder needs fixing).

Both simulate a download delay of ``fetch_latency_ms`` per ticker, so progress is visible.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

__all__ = ["DataError", "MissingData", "PriceHistory", "SyntheticProvider", "CsvProvider", "make_provider"]

TRADING_DAYS_PER_YEAR = 252


class DataError(Exception):
    """Market data could not be loaded (the message names the file and the problem)."""


class MissingData(DataError):
    """There is no data for this ticker: skip it, the others may be fine."""


@dataclass(frozen=True)
class PriceHistory:
    """Daily bars, oldest first; the lists have equal length."""

    ticker: str
    dates: list[dt.date]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[int]

    def __len__(self) -> int:
        return len(self.close)


class Provider(Protocol):
    name: str

    def fetch(self, ticker: str) -> PriceHistory: ...

    def describe(self) -> dict: ...


def _trading_days(end: dt.date, count: int) -> list[dt.date]:
    """``count`` weekdays ending on or before ``end``, oldest first (holidays ignored)."""
    days: list[dt.date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    days.reverse()
    return days


def ticker_seed(seed: int, ticker: str) -> int:
    digest = hashlib.sha256(f"{seed}:{ticker}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


class SyntheticProvider:
    """Geometric Brownian motion with per-ticker drift/volatility regimes and plausible volume."""

    name = "synthetic"

    def __init__(self, seed: int, history_days: int, end_date: dt.date,
                 fetch_latency_ms: float = 0.0) -> None:
        self.seed = seed
        self.history_days = history_days
        self.latency = fetch_latency_ms / 1000.0
        self.dates = _trading_days(end_date, history_days)

    def describe(self) -> dict:
        return {"source": self.name, "seed": self.seed,
                "note": "synthetic prices generated from the seed, not market data"}

    def fetch(self, ticker: str) -> PriceHistory:
        if self.latency > 0:
            time.sleep(self.latency)
        rng = random.Random(ticker_seed(self.seed, ticker))
        n = self.history_days
        sigma = rng.uniform(0.16, 0.55)  # annualised volatility
        price = math.exp(rng.uniform(math.log(12.0), math.log(650.0)))
        base_volume = math.exp(rng.uniform(math.log(4e5), math.log(6e7)))
        # Drift regimes: one or two switches at random points of the history.
        switches = sorted(rng.sample(range(n // 5, n - 20), rng.randint(1, 2)))
        drifts = [rng.uniform(-0.35, 0.55) for _ in range(len(switches) + 1)]
        dt_year = 1.0 / TRADING_DAYS_PER_YEAR
        step_vol = sigma * math.sqrt(dt_year)
        gauss = rng.gauss

        opens: list[float] = []
        highs: list[float] = []
        lows: list[float] = []
        closes: list[float] = []
        volumes: list[int] = []
        regime = 0
        volume_level = 1.0  # slow-moving interest in the stock
        for i in range(n):
            if regime < len(switches) and i >= switches[regime]:
                regime += 1
            mu = drifts[regime]
            ret = (mu - 0.5 * sigma * sigma) * dt_year + step_vol * gauss(0.0, 1.0)
            open_ = price * math.exp(step_vol * 0.25 * gauss(0.0, 1.0))
            close = price * math.exp(ret)
            wick = step_vol * 0.6
            high = max(open_, close) * (1.0 + abs(gauss(0.0, wick)))
            low = min(open_, close) * (1.0 - min(0.5, abs(gauss(0.0, wick))))
            volume_level = min(3.0, max(0.3, volume_level * math.exp(0.08 * gauss(0.0, 1.0))
                                        + 0.05 * (1.0 - volume_level)))
            surprise = 1.0 + 25.0 * abs(ret - mu * dt_year)  # big moves trade more shares
            volume = base_volume * volume_level * surprise * math.exp(0.25 * gauss(0.0, 1.0))
            opens.append(round(max(open_, 0.01), 2))
            closes.append(round(max(close, 0.01), 2))
            highs.append(round(max(high, open_, close, 0.01), 2))
            lows.append(round(max(min(low, open_, close), 0.01), 2))
            volumes.append(int(volume))
            price = close
        return PriceHistory(ticker, list(self.dates), opens, highs, lows, closes, volumes)


_CSV_COLUMNS = ("Date", "Open", "High", "Low", "Close", "Volume")


class CsvProvider:
    """Reads ``<data_dir>/<TICKER>.csv``; keeps the last ``history_days`` bars up to end_date."""

    name = "csv"

    def __init__(self, data_dir: str, history_days: int, end_date: dt.date,
                 fetch_latency_ms: float = 0.0) -> None:
        self.data_dir = Path(data_dir)
        self.history_days = history_days
        self.end_date = end_date
        self.latency = fetch_latency_ms / 1000.0

    def describe(self) -> dict:
        return {"source": self.name, "folder": str(self.data_dir.resolve())}

    def fetch(self, ticker: str) -> PriceHistory:
        if self.latency > 0:
            time.sleep(self.latency)
        path = self.data_dir / f"{ticker}.csv"
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                rows = self._parse(path, csv.reader(fh))
        except FileNotFoundError:
            raise MissingData(f"{path}: no data file for ticker {ticker}") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: cannot read: {exc}") from None
        rows = [r for r in rows if r[0] <= self.end_date][-self.history_days:]
        if not rows:
            raise MissingData(f"{path}: no rows on or before {self.end_date.isoformat()}")
        return PriceHistory(ticker, [r[0] for r in rows], [r[1] for r in rows],
                            [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows],
                            [r[5] for r in rows])

    @staticmethod
    def _parse(path: Path, reader: Iterator[list[str]]) -> list[tuple]:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != _CSV_COLUMNS:
            raise DataError(f"{path}: header must be {','.join(_CSV_COLUMNS)} (got "
                            f"{','.join(header) if header else 'an empty file'})")
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 6:
                raise DataError(f"{path}:{line_no}: expected 6 columns, got {len(row)}")
            try:
                date = dt.date.fromisoformat(row[0].strip())
            except ValueError:
                raise DataError(f"{path}:{line_no}: bad Date {row[0]!r} "
                                "(expected YYYY-MM-DD)") from None
            values = []
            for col, text in zip(_CSV_COLUMNS[1:], row[1:]):
                try:
                    value = float(text)
                except ValueError:
                    raise DataError(f"{path}:{line_no}: bad {col} {text!r}") from None
                if not math.isfinite(value) or value < 0:
                    raise DataError(f"{path}:{line_no}: bad {col} {text!r}")
                values.append(value)
            rows.append((date, values[0], values[1], values[2], values[3], int(values[4])))
        rows.sort(key=lambda r: r[0])
        return rows


def make_provider(params: dict) -> Provider:
    end_date = dt.date.fromisoformat(params["end_date"])
    if params.get("data_dir"):
        return CsvProvider(params["data_dir"], params["history_days"], end_date,
                           params["fetch_latency_ms"])
    return SyntheticProvider(params["seed"], params["history_days"], end_date,
                             params["fetch_latency_ms"])
