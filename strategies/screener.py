"""The run skeleton both screeners share: parameters, stages, progress, output.

A screener supplies ``Screener`` callbacks (check parameters, analyse one ticker, rank, render)
and ``run()`` drives the five stages in order, reporting per-ticker progress:

    initialization  0 -> 5     parameters, universe, data provider
    data_download   5 -> 45    one fetch per ticker
    analysis       45 -> 85    one analysis per ticker
    ranking        85 -> 95
    results        95 -> 100   result event (runner) or table / JSON on stdout (by hand)

The result never contains wall-clock values, so the same parameters give the same result in
both modes and on every run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from market_data import DataError, MissingData, PriceHistory, make_provider
from params import ParamError, parse_params
from progress_reporter import ProgressReporter
from universe import resolve_tickers

__all__ = ["Screener", "Column", "run"]


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    fmt: str = "{}"
    left: bool = False  # text columns (ticker, expiry) read better left-aligned


@dataclass(frozen=True)
class Screener:
    name: str
    script_file: str
    #: The analysis of one ticker: a dict with ``ticker``, ``passed`` (bool) and, when it did
    #: not pass, ``reason``; None when the history is too short to analyse.
    analyze: Callable[[PriceHistory, dict[str, Any]], Optional[dict[str, Any]]]
    #: Turns the passed analyses into the ranked, truncated candidate list.
    rank: Callable[[list[dict[str, Any]], dict[str, Any]], list[dict[str, Any]]]
    columns: Sequence[Column]
    result_key: str = "candidates"
    #: Checks beyond the manifest's schema and its ``x-constraints``; raise ParamError.
    check: Callable[[dict[str, Any]], None] = lambda params: None


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _source_text(source: dict[str, Any]) -> str:
    if source["source"] == "synthetic":
        return f"synthetic data, seed {source['seed']}: not market data"
    return f"CSV data from {source['folder']}"


def _die(reporter: Optional[ProgressReporter], message: str, code: int) -> None:
    if reporter is not None and reporter.json_mode:
        reporter.log(message, level="error")
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _per_ticker(reporter: ProgressReporter, stage: str, start: float, end: float,
                tickers: Sequence[str], verb: str, work: Callable[[str], None],
                extra_metrics: Callable[[], dict[str, Any]]) -> None:
    total = len(tickers)
    began = time.monotonic()
    for i, ticker in enumerate(tickers):
        work(ticker)
        done = i + 1
        elapsed = time.monotonic() - began
        rate = done / elapsed if elapsed > 0 else 0.0
        metrics = {"tickers_per_second": round(rate, 2),
                   "estimated_remaining": _fmt_duration((total - done) / rate if rate else 0)}
        metrics.update(extra_metrics())
        reporter.report_progress(stage, start + (end - start) * done / total,
                                 f"{verb} {ticker}", current_item=ticker,
                                 completed_items=done, total_items=total, metrics=metrics)


def run(screener: Screener, argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    params, options = parse_params(screener.script_file, argv)
    try:
        screener.check(params)
        if params["data_dir"] and not os.path.isdir(params["data_dir"]):
            raise ParamError("data_dir", f"not a directory (got {json.dumps(params['data_dir'])})")
        dt.date.fromisoformat(params["end_date"])
    except ParamError as exc:
        _die(None, str(exc), 2)
    except ValueError:
        _die(None, f"parameter 'end_date': not a valid date (got {params['end_date']!r})", 2)

    reporter = ProgressReporter()
    with reporter.stage("initialization", 0, "Validating parameters"):
        tickers = resolve_tickers(params["universe"], params["tickers"], params["max_tickers"])
        provider = make_provider(params)
        source = provider.describe()
        reporter.report_progress(None, 5, f"Screening {len(tickers)} tickers from "
                                 f"{'tickers' if params['tickers'] else params['universe']} "
                                 f"({_source_text(source)})", total_items=len(tickers))

    histories: dict[str, PriceHistory] = {}
    skipped: list[dict[str, str]] = []
    bars = 0

    def skip(ticker: str, reason: str) -> None:
        # One ticker without usable data must not cost the user the whole screen.
        skipped.append({"ticker": ticker, "reason": reason})
        reporter.log(f"skipped {ticker}: {reason}", level="warning")

    def download(ticker: str) -> None:
        nonlocal bars
        try:
            histories[ticker] = provider.fetch(ticker)
        except MissingData as exc:
            skip(ticker, str(exc))
            return
        except DataError as exc:
            _die(reporter, str(exc), 1)
        bars += len(histories[ticker])

    with reporter.stage("data_download", 5, "Fetching daily OHLCV"):
        _per_ticker(reporter, "data_download", 5, 45, tickers, "Fetching market data for",
                    download, lambda: {"bars_loaded": bars})

    if not histories:
        _die(reporter, f"no data for any of the {len(tickers)} tickers ({_source_text(source)})", 1)

    analyses: dict[str, dict[str, Any]] = {}
    passed: list[dict[str, Any]] = []

    def analyze(ticker: str) -> None:
        analysis = screener.analyze(histories[ticker], params)
        if analysis is None:
            skip(ticker, f"only {len(histories[ticker])} daily bars up to {params['end_date']}, "
                         "too few to analyse")
            return
        analyses[ticker] = analysis
        if analysis["passed"]:
            passed.append(analysis)

    with reporter.stage("analysis", 45, "Computing indicators"):
        _per_ticker(reporter, "analysis", 45, 85, list(histories), "Analysing", analyze,
                    lambda: {"passed": len(passed)})

    with reporter.stage("ranking", 85, f"Ranking {len(passed)} candidates"):
        ranked = screener.rank(passed, params)
        reporter.report_progress(None, 95, f"Ranked {len(ranked)} of {len(passed)} candidates",
                                 metrics={"passed": len(passed), "returned": len(ranked)})

    reasons: dict[str, int] = {}
    for a in analyses.values():
        if not a["passed"]:
            reasons[a["reason"]] = reasons.get(a["reason"], 0) + 1
    last_dates = [h.dates[-1] for h in histories.values() if len(h)]
    data = {
        "strategy": screener.name,
        "summary": {
            "tickers_screened": len(tickers),
            "tickers_skipped": len(skipped),
            "skipped": skipped,
            "tickers_passed": len(passed),
            screener.result_key + "_returned": len(ranked),
            "rejections": dict(sorted(reasons.items())),
            "data_source": provider.name,
            "data": source,
            "as_of": max(last_dates).isoformat() if last_dates else None,
            "parameters": params,
        },
        screener.result_key: ranked,
    }

    with reporter.stage("results", 95, "Publishing results"):
        reporter.report_progress(None, 100, f"Done: {len(ranked)} {screener.result_key}",
                                 completed_items=len(tickers), total_items=len(tickers))
        reporter.result(data)  # JSON mode: the result event; by hand: ends the progress line
        if not reporter.json_mode:
            text = json.dumps(data, indent=2) + "\n" if options.json else render_table(data, screener)
            sys.stdout.write(text)
            sys.stdout.flush()
    return data


def render_table(data: dict[str, Any], screener: Screener) -> str:
    summary = data["summary"]
    rows = data[screener.result_key]
    lines = [f"{screener.name}: {summary['tickers_passed']} of {summary['tickers_screened']} "
             f"tickers passed ({_source_text(summary['data'])}, as of {summary['as_of']}); "
             f"top {len(rows)}:", ""]
    if not rows:
        lines.append("(no candidates)")
    else:
        cells = [[c.header for c in screener.columns]]
        for row in rows:
            cells.append(["-" if row.get(c.key) is None else c.fmt.format(row[c.key])
                          for c in screener.columns])
        widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
        lefts = [c.left for c in screener.columns]
        for n, r in enumerate(cells):
            lines.append("  ".join(v.ljust(w) if left or not n else v.rjust(w)
                                   for v, w, left in zip(r, widths, lefts)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
    if summary["skipped"]:
        lines.append("")
        lines.append("skipped: " + ", ".join(s["ticker"] for s in summary["skipped"]))
    if summary["rejections"]:
        lines.append("")
        lines.append("rejected: " + ", ".join(f"{k} ({v})"
                                               for k, v in summary["rejections"].items()))
    return "\n".join(lines) + "\n"
