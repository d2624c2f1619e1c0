"""Technical indicators and option maths over plain lists (oldest value first).

Series functions return a list as long as the input, with ``None`` where the window is not yet
full. Everything is O(n) so a 500-ticker screen stays cheap.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

__all__ = ["sma_series", "ema_series", "rsi", "macd", "historical_volatility", "mean",
           "black_scholes_call", "norm_cdf"]

Series = list[Optional[float]]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def sma_series(values: Sequence[float], period: int) -> Series:
    out: Series = [None] * len(values)
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= period:
            total -= values[i - period]
        if i >= period - 1:
            out[i] = total / period
    return out


def ema_series(values: Sequence[float], period: int) -> Series:
    """EMA seeded with the SMA of the first ``period`` values."""
    out: Series = [None] * len(values)
    if len(values) < period:
        return out
    k = 2.0 / (period + 1)
    ema = sum(values[:period]) / period
    out[period - 1] = ema
    for i in range(period, len(values)):
        ema = values[i] * k + ema * (1.0 - k)
        out[i] = ema
    return out


def rsi(closes: Sequence[float], period: int = 14) -> Optional[float]:
    """Wilder's RSI of the last close (None without ``period + 1`` closes)."""
    if len(closes) <= period:
        return None
    gains = losses = 0.0
    for i in range(1, period + 1):
        change = closes[i] - closes[i - 1]
        if change > 0:
            gains += change
        else:
            losses -= change
    avg_gain, avg_loss = gains / period, losses / period
    for i in range(period + 1, len(closes)):
        change = closes[i] - closes[i - 1]
        avg_gain = (avg_gain * (period - 1) + max(change, 0.0)) / period
        avg_loss = (avg_loss * (period - 1) + max(-change, 0.0)) / period
    if avg_loss == 0.0:
        return 100.0 if avg_gain > 0 else 50.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def macd(closes: Sequence[float], fast: int = 12, slow: int = 26, signal: int = 9
         ) -> tuple[Series, Series, Series]:
    """(MACD line, signal line, histogram) series."""
    fast_ema, slow_ema = ema_series(closes, fast), ema_series(closes, slow)
    line: Series = [None if f is None or s is None else f - s for f, s in zip(fast_ema, slow_ema)]
    start = slow - 1
    sig_tail = ema_series([v for v in line[start:] if v is not None], signal)
    sig: Series = [None] * start + sig_tail
    hist: Series = [None if m is None or s is None else m - s for m, s in zip(line, sig)]
    return line, sig, hist


def historical_volatility(closes: Sequence[float], window: int,
                          periods_per_year: int = 252) -> Optional[float]:
    """Annualised standard deviation of the last ``window`` daily log returns."""
    if len(closes) <= window:
        return None
    tail = closes[-(window + 1):]
    rets = [math.log(b / a) for a, b in zip(tail, tail[1:]) if a > 0 and b > 0]
    if len(rets) < 2:
        return None
    m = sum(rets) / len(rets)
    var = sum((r - m) ** 2 for r in rets) / (len(rets) - 1)
    return math.sqrt(var * periods_per_year)


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black_scholes_call(spot: float, strike: float, years: float, rate: float, vol: float,
                       dividend_yield: float = 0.0) -> tuple[float, float]:
    """European call (price, delta) under Black-Scholes with a continuous dividend yield."""
    if years <= 0 or vol <= 0:
        intrinsic = max(spot - strike, 0.0)
        return intrinsic, 1.0 if spot > strike else 0.0
    sqrt_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - dividend_yield + 0.5 * vol * vol) * years) / (
        vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc_q = math.exp(-dividend_yield * years)
    price = spot * disc_q * norm_cdf(d1) - strike * math.exp(-rate * years) * norm_cdf(d2)
    return max(price, 0.0), disc_q * norm_cdf(d1)
