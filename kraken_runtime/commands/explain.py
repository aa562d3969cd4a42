"""`kraken-runtime explain [--db URL] [--json] ORDER_ID|CL_ORD_ID`: why an order exists and what it did.

Prints the chain fill -> order -> risk decision -> intent -> signals -> state (epoch, seq, bid, ask), plus
the realised PnL and fees of the order's fills (average cost over the run's fills before them), so every
loss can be explained. Exit 0 found, 1 no such order or the database failed, 2 bad usage, 78 bad config.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import orjson

from kraken_runtime import exitcodes
from kraken_runtime.commands._common import add_config_arguments, fail_config, load_from_args
from kraken_runtime.core.config import ConfigError
from kraken_runtime.core.execution.positions import EMPTY_LEDGER, book_fill
from kraken_runtime.storage import execution as store
from kraken_runtime.storage.db import DatabaseMissing, StorageError, close_database, open_database, redact_url
from kraken_runtime.storage.models import dump_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("explain", help="trace an order back to its risk decision, intent, signals and state")
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the chain as one JSON document")
    parser.add_argument("order", metavar="ORDER_ID|CL_ORD_ID", help="the order's row id, client order id or exchange order id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ref = args.order.strip()
    if not ref or len(ref) > 64 or not all(c.isalnum() or c in "-_." for c in ref):
        print(f"explain: {args.order!r} is not an order id; expected a row id, client order id or exchange order id "
              "(letters, digits, - _ .)", file=sys.stderr)
        return exitcodes.USAGE
    try:
        settings, _ = load_from_args(args)
    except ConfigError as error:
        return fail_config(error)
    url = settings.storage.db_url
    try:
        db = open_database(url, busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms, migrate=False)
        try:
            chain = store.explain(ref)
            if chain is not None:
                chain["pnl"] = order_pnl(chain["order"])
        finally:
            close_database(db)
    except DatabaseMissing as error:
        print(f"explain: {error}", file=sys.stderr)
        return exitcodes.USAGE
    except StorageError as error:
        print(f"explain: {error}", file=sys.stderr)
        return exitcodes.FAILED
    except Exception as error:  # noqa: BLE001 - a driver error: one line, not a traceback
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(f"explain: {redact_url(url)}: {type(error).__name__}: {first_line}", file=sys.stderr)
        return exitcodes.FAILED
    if chain is None:
        print(f"explain: no order {ref!r} in {redact_url(url)} (looked up as row id, client order id and exchange order id)",
              file=sys.stderr)
        return exitcodes.FAILED
    if args.json:
        print(orjson.dumps(orjson.loads(dump_json(chain)), option=orjson.OPT_INDENT_2).decode())
    else:
        print(render(chain))
    return exitcodes.OK


def order_pnl(order: dict[str, Any]) -> dict[str, Decimal]:
    """Realised PnL and fees of this order's fills, booked in order over every fill of its run."""
    ledger = EMPTY_LEDGER
    realised = fees = Decimal(0)
    for fill in store.fills(order["run_id"]):
        before = ledger.by_symbol.get(fill["symbol"])
        ledger = book_fill(ledger, symbol=fill["symbol"], side=fill["side"], qty=fill["qty"], price=fill["price"],
                           fee=fill["fee"], strategies=tuple(fill["strategies"]))
        if fill["order_id"] == order["id"]:
            realised += ledger.by_symbol[fill["symbol"]].realised - (before.realised if before else Decimal(0))
            fees += fill["fee"]
    return {"realised_usd": realised, "fees_usd": fees, "net_usd": realised - fees}


def _time(ns: int | None) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _d(value: Any) -> str:
    if value is None:
        return "-"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def render(chain: dict[str, Any]) -> str:
    o = chain["order"]
    lines = [
        f"order {o['id']}  {o['symbol']} {o['side'].upper()} {_d(o['qty'])} @ {_d(o['price'])}  "
        f"{'post-only ' if o['post_only'] else ''}{o['time_in_force']}  venue {o['venue']} ({o['mode']})",
        f"  client order id {o['client_order_id']}  exchange id {o['exchange_order_id'] or '-'}",
        f"  status {o['status']}  filled {_d(o['filled_qty'])} avg {_d(o['avg_fill_price'])}  "
        f"created {_time(o['created_at_ns'])}  updated {_time(o['updated_at_ns'])}"
        + (f"  last error: {o['last_error']}" if o["last_error"] else ""),
        f"  strategies {'+'.join(o['strategies']) or '-'}",
    ]
    fills = chain["fills"]
    lines.append(f"fills ({len(fills)}):" if fills else "fills: none")
    for f in fills:
        lines.append(f"  {f['exec_id']}  {_d(f['qty'])} @ {_d(f['price'])} {f['liquidity'] or '-'}  fee {_d(f['fee'])} "
                     f"{f['fee_currency']}  at {_time(f['ts_exchange_ns'] or f['created_at_ns'])}")
    pnl = chain.get("pnl")
    if pnl is not None:
        lines.append(f"pnl of these fills: realised {pnl['realised_usd']:.6f}  fees {pnl['fees_usd']:.6f}  "
                     f"net {pnl['net_usd']:.6f} (quote currency; an opening fill realises nothing until the position closes)")
    events = chain["risk_events"]
    if not events:
        lines.append("risk decision: none stored")
    for e in events:
        lines.append(f"risk decision {e['id']}: {e['decision']} by {e['rule']} at {_time(e['created_at_ns'])}: {e['reason']}")
        details = e.get("details") or {}
        for step in details.get("steps", []):
            inputs = ", ".join(f"{k}={v}" for k, v in (step.get("inputs") or {}).items())
            lines.append(f"  {step['rule']:<13} {step['outcome']:<8} {step['reason']}" + (f"  [{inputs}]" if inputs else ""))
    intent = chain["intent"]
    if intent is None:
        lines.append("intent: none (the order has no stored intent)")
        return "\n".join(lines)
    lines.append(f"intent {intent['id']}: {intent['symbol']} {intent['side']} {_d(intent['qty'])} @ {_d(intent['price'])}  "
                 f"style {intent.get('style') or '-'}  score {_d(intent.get('score'))}  strategies {intent['strategy']}  "
                 f"at {_time(intent['created_at_ns'])}")
    signals = intent.get("signals")
    reasons = signals.get("reasons", []) if isinstance(signals, dict) else (signals or [])
    lines.append("signals:" if reasons else "signals: none stored")
    for pair in reasons:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            lines.append(f"  {pair[0]} = {pair[1]}")
    state = intent.get("state") or {}
    lines.append(f"state: epoch {intent['epoch']}  seq {intent['seq']}  state time {_time(intent['state_ts_ns'])}  "
                 f"bid {state.get('bid', state.get('best_bid', '-'))}  ask {state.get('ask', state.get('best_ask', '-'))}"
                 + (f"  mid {state['mid']}" if state.get("mid") is not None else ""))
    return "\n".join(lines)
