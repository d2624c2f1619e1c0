#!/usr/bin/env python3
"""LEAP call entry screener: deep-ish in-the-money calls 1-2 years out on uptrending tickers.

Run by hand:  python3 leap_entry_strategy.py --tickers AAPL,MSFT --target-delta 0.75 [--json]
Parameters:   python3 leap_entry_strategy.py --describe   (from leap_entry_strategy.strategy.json)

For each ticker in an uptrend (close > SMA200, SMA50 > SMA200) the annualised historical
volatility (30/60-day) stands in for implied volatility. For each listed-style expiry (third
Friday of Jan/Mar/Jun/Sep/Dec) inside the days-to-expiry window, the strike on the standard grid
whose Black-Scholes delta is closest to ``target_delta`` is priced. Entries rank by the
annualised move the stock needs to reach breakeven at expiry (lowest first).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from indicators import black_scholes_call, historical_volatility, sma_series  # noqa: E402
from market_data import PriceHistory  # noqa: E402
from screener import Column, Screener, run  # noqa: E402

MIN_BARS = 200
EXPIRY_MONTHS = (1, 3, 6, 9, 12)


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def expiries(as_of: dt.date, min_days: int, max_days: int) -> list[dt.date]:
    out = []
    for year in range(as_of.year, as_of.year + 4):
        for month in EXPIRY_MONTHS:
            day = _third_friday(year, month)
            if min_days <= (day - as_of).days <= max_days:
                out.append(day)
    return out


def strike_step(spot: float) -> float:
    if spot < 25:
        return 1.0
    if spot < 100:
        return 2.5
    if spot < 250:
        return 5.0
    if spot < 1000:
        return 10.0
    return 50.0


def _best_strike(spot: float, years: float, params: dict[str, Any], vol: float
                 ) -> Optional[tuple[float, float, float]]:
    """(strike, price, delta) on the grid with delta closest to the target, if close enough."""
    step = strike_step(spot)
    rate, div, target = params["risk_free_rate"], params["dividend_yield"], params["target_delta"]
    best: Optional[tuple[float, float, float]] = None
    k = max(step, math.floor(spot * 0.3 / step) * step)
    top = spot * 1.5
    while k <= top:
        price, delta = black_scholes_call(spot, k, years, rate, vol, div)
        if best is None or abs(delta - target) < abs(best[2] - target):
            best = (k, price, delta)
        k += step
    if best is None or abs(best[2] - target) > params["delta_tolerance"] or best[1] <= 0:
        return None
    return best


def analyze(history: PriceHistory, params: dict[str, Any]) -> Optional[dict[str, Any]]:
    closes = history.close
    if len(closes) < MIN_BARS + 1:
        return None
    spot = closes[-1]
    sma50, sma200 = sma_series(closes, 50)[-1], sma_series(closes, 200)[-1]
    assert sma50 is not None and sma200 is not None
    hv30, hv60 = historical_volatility(closes, 30), historical_volatility(closes, 60)
    assert hv30 is not None and hv60 is not None
    source = params["volatility_source"]
    vol = hv30 if source == "hv_30" else hv60 if source == "hv_60" else max(hv30, hv60)
    base = {"ticker": history.ticker, "close": round(spot, 2), "sma_50": round(sma50, 2),
            "sma_200": round(sma200, 2), "hv_30": round(hv30, 4), "hv_60": round(hv60, 4),
            "volatility_used": round(vol, 4)}
    if params["require_uptrend"] and not (spot > sma200 and sma50 > sma200):
        return {**base, "passed": False, "reason": "not in uptrend"}
    if not params["min_volatility"] <= vol <= params["max_volatility"]:
        return {**base, "passed": False, "reason": "volatility outside range"}

    as_of = history.dates[-1]
    entries = []
    for expiry in expiries(as_of, params["min_days_to_expiry"], params["max_days_to_expiry"]):
        days = (expiry - as_of).days
        years = days / 365.0
        found = _best_strike(spot, years, params, vol)
        if found is None:
            continue
        strike, price, delta = found
        premium = round(price, 2)
        cost = round(premium * 100, 2)
        if cost > params["max_cost_per_contract"]:
            continue
        breakeven = strike + premium
        entries.append({
            "expiry": expiry.isoformat(),
            "days_to_expiry": days,
            "strike": strike,
            "delta": round(delta, 4),
            "option_price": premium,
            "cost_per_contract": cost,
            "intrinsic_value": round(max(spot - strike, 0.0), 2),
            "extrinsic_value": round(premium - max(spot - strike, 0.0), 2),
            "breakeven": round(breakeven, 2),
            "move_needed_pct": round((breakeven / spot - 1.0) * 100.0, 2),
            "annualized_move_needed_pct": round(((breakeven / spot) ** (1.0 / years) - 1.0)
                                                * 100.0, 2),
            "leverage": round(delta * spot / premium, 2),
        })
    if not entries:
        return {**base, "passed": False, "reason": "no strike near target delta within cost"}
    entries.sort(key=lambda e: (e["annualized_move_needed_pct"], e["expiry"]))
    return {**base, "passed": True,
            "entries": entries[: params["max_entries_per_ticker"]],
            "trend_strength_pct": round((sma50 / sma200 - 1.0) * 100.0, 2)}


def rank(passed: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    flat = []
    for analysis in passed:
        info = {k: v for k, v in analysis.items() if k not in ("passed", "entries")}
        for entry in analysis["entries"]:
            flat.append({**info, **entry})
    flat.sort(key=lambda e: (e["annualized_move_needed_pct"], e["ticker"], e["expiry"]))
    return [{"rank": i + 1, **e} for i, e in enumerate(flat[: params["top_n"]])]


SCREENER = Screener(
    name="leap_entry_strategy",
    script_file=__file__,
    analyze=analyze,
    rank=rank,
    result_key="entries",
    columns=[
        Column("rank", "rank"), Column("ticker", "ticker", left=True), Column("close", "close", "{:.2f}"),
        Column("vol", "volatility_used", "{:.1%}"), Column("expiry", "expiry", left=True),
        Column("days", "days_to_expiry"), Column("strike", "strike", "{:.2f}"),
        Column("delta", "delta", "{:.3f}"), Column("price", "option_price", "{:.2f}"),
        Column("cost", "cost_per_contract", "{:,.0f}"),
        Column("breakeven", "breakeven", "{:.2f}"), Column("move %", "move_needed_pct", "{:+.2f}"),
        Column("ann. %", "annualized_move_needed_pct", "{:+.2f}"),
        Column("lev", "leverage", "{:.1f}x"),
    ],
)

if __name__ == "__main__":
    run(SCREENER)
