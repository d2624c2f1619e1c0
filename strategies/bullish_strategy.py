#!/usr/bin/env python3
"""Bullish-trend screener: SMA 50/200 trend and golden cross, RSI(14), MACD(12,26,9), volume.

Run by hand:  python3 bullish_strategy.py --universe dow30 --rsi-max 75 [--json]
Parameters:   python3 bullish_strategy.py --describe   (from bullish_strategy.strategy.json)

Score (0-100): trend 35 (close > SMA200: 10, SMA50 > SMA200: 15, close > SMA50: 10), golden
cross within the look-back 10, RSI inside the band 20 (less the further outside), MACD 20
(above signal 12, above zero 4, histogram rising 4), volume 15 (20-day vs 50-day average).
A ticker passes when it meets every enabled filter and scores at least ``min_score``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from indicators import macd, mean, rsi, sma_series  # noqa: E402
from market_data import PriceHistory  # noqa: E402
from screener import Column, Screener, run  # noqa: E402

MIN_BARS = 200 + 1  # SMA 200 plus one day to see a cross


def _golden_cross_days_ago(fast: list, slow: list, lookback: int) -> Optional[int]:
    last = len(fast) - 1
    for back in range(min(lookback, last)):
        i = last - back
        f0, s0, f1, s1 = fast[i - 1], slow[i - 1], fast[i], slow[i]
        if None in (f0, s0, f1, s1):
            return None
        if f0 <= s0 and f1 > s1:
            return back
    return None


def analyze(history: PriceHistory, params: dict[str, Any]) -> Optional[dict[str, Any]]:
    closes, volumes = history.close, history.volume
    if len(closes) < MIN_BARS:
        return None
    close = closes[-1]
    sma50_s, sma200_s = sma_series(closes, 50), sma_series(closes, 200)
    sma50, sma200 = sma50_s[-1], sma200_s[-1]
    assert sma50 is not None and sma200 is not None
    cross = _golden_cross_days_ago(sma50_s, sma200_s, params["golden_cross_lookback_days"])
    rsi14 = rsi(closes, 14)
    assert rsi14 is not None
    macd_line, signal, hist = macd(closes)
    m, s, h, h_prev = macd_line[-1], signal[-1], hist[-1], hist[-2]
    assert m is not None and s is not None and h is not None and h_prev is not None
    avg5, avg20, avg50 = mean(volumes[-5:]), mean(volumes[-20:]), mean(volumes[-50:])
    vol_ratio_20 = avg5 / avg20 if avg20 else 0.0
    vol_ratio_50 = avg20 / avg50 if avg50 else 0.0

    signals: list[str] = []
    score = 0.0
    if close > sma200:
        score += 10
        signals.append("close above SMA200")
    if sma50 > sma200:
        score += 15
        signals.append("SMA50 above SMA200")
    if close > sma50:
        score += 10
        signals.append("close above SMA50")
    if cross is not None:
        score += 10
        signals.append(f"golden cross {cross} day(s) ago")
    lo, hi = params["rsi_min"], params["rsi_max"]
    distance = lo - rsi14 if rsi14 < lo else rsi14 - hi if rsi14 > hi else 0.0
    score += max(0.0, 20.0 - 2.0 * distance)
    if distance == 0.0:
        signals.append(f"RSI {rsi14:.1f} within {lo:g}-{hi:g}")
    if m > s:
        score += 12
        signals.append("MACD above signal")
    if m > 0:
        score += 4
    if h > h_prev:
        score += 4
        signals.append("MACD histogram rising")
    score += 15.0 * min(1.0, max(0.0, (vol_ratio_50 - 0.8) / 0.6))
    if vol_ratio_50 >= 1.1:
        signals.append(f"volume {vol_ratio_50:.2f}x its 50-day average")
    score = round(score, 1)

    reason = None
    if close < params["min_price"]:
        reason = "price below min_price"
    elif params["require_uptrend"] and not (close > sma200 and sma50 > sma200):
        reason = "not in uptrend"
    elif params["require_golden_cross"] and cross is None:
        reason = "no recent golden cross"
    elif distance > 0:
        reason = "RSI outside band"
    elif params["require_macd_bullish"] and not m > s:
        reason = "MACD not bullish"
    elif vol_ratio_50 < params["min_volume_ratio"]:
        reason = "volume below min_volume_ratio"
    elif score < params["min_score"]:
        reason = "score below min_score"

    analysis: dict[str, Any] = {
        "ticker": history.ticker,
        "passed": reason is None,
        "score": score,
        "close": round(close, 2),
        "change_20d_pct": round((close / closes[-21] - 1.0) * 100.0, 2),
        "sma_50": round(sma50, 2),
        "sma_200": round(sma200, 2),
        "golden_cross_days_ago": cross,
        "rsi_14": round(rsi14, 2),
        "macd": round(m, 4),
        "macd_signal": round(s, 4),
        "macd_histogram": round(h, 4),
        "avg_volume_20": int(avg20),
        "volume_ratio_20": round(vol_ratio_20, 3),
        "volume_ratio_50": round(vol_ratio_50, 3),
        "signals": signals,
    }
    if reason is not None:
        analysis["reason"] = reason
    return analysis


def rank(passed: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    ordered = sorted(passed, key=lambda a: (-a["score"], a["ticker"]))[: params["top_n"]]
    return [{"rank": i + 1, **{k: v for k, v in a.items() if k != "passed"}}
            for i, a in enumerate(ordered)]


SCREENER = Screener(
    name="bullish_strategy",
    script_file=__file__,
    analyze=analyze,
    rank=rank,
    columns=[
        Column("rank", "rank"), Column("ticker", "ticker", left=True), Column("score", "score", "{:.1f}"),
        Column("close", "close", "{:.2f}"), Column("20d %", "change_20d_pct", "{:+.2f}"),
        Column("SMA50", "sma_50", "{:.2f}"), Column("SMA200", "sma_200", "{:.2f}"),
        Column("cross", "golden_cross_days_ago", "{}d"), Column("RSI", "rsi_14", "{:.1f}"),
        Column("MACD", "macd", "{:.3f}"), Column("signal", "macd_signal", "{:.3f}"),
        Column("vol/20d", "volume_ratio_20", "{:.2f}"),
        Column("vol/50d", "volume_ratio_50", "{:.2f}"),
    ],
)

if __name__ == "__main__":
    run(SCREENER)
