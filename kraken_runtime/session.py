"""The session summary: on exit the daemon writes logs/session_<run_id>.json (under `logging.dir`).

It summarises the run from the database: orders by status, fills by liquidity, PnL by strategy and by symbol
(realised, unrealised at the last stored mid, fees, net), rejections by rule, restarts of children and the
safety-mode changes. Money is written as decimal strings. Part of the composition root: it writes a file.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken_runtime.core.execution.positions import Position, ledger_from_fills
from kraken_runtime.storage import execution as store
from kraken_runtime.storage import repo
from kraken_runtime.storage.models import dump_json

log = logging.getLogger(__name__)


def _pnl(position: Position, mark: Decimal | None) -> dict[str, Any]:
    return {"position_qty": position.qty, "realised": position.realised, "unrealised": position.unrealised(mark),
            "fees": position.fees, "net": position.net(mark), "fills": position.fills, "volume": position.volume}


def session_summary(run_id: int) -> dict[str, Any]:
    orders = store.orders(run_id)
    fills = store.fills(run_id)
    ledger = ledger_from_fills(fills)
    marks: dict[str, Decimal | None] = {row["symbol"]: row.get("mid") for row in repo.symbol_states(run_id)}
    events = store.risk_events(run_id)
    restarts = Counter(actor for actor, event, _ in repo.actor_events(run_id) if event in ("restarted", "revived"))
    run = store.run_row(run_id) or {}
    total_fees = sum((p.fees for p in ledger.by_symbol.values()), Decimal(0))
    return {
        "run_id": run_id,
        "mode": run.get("mode"), "market": run.get("market"), "shard": run.get("shard"),
        "started_at_ns": run.get("started_at_ns"), "stopped_at_ns": run.get("stopped_at_ns"),
        "orders": {"total": len(orders), "by_status": dict(Counter(o["status"] for o in orders))},
        "fills": {"total": len(fills), "by_liquidity": dict(Counter(f["liquidity"] or "unknown" for f in fills))},
        "fees": total_fees,
        "pnl_by_symbol": {symbol: _pnl(p, marks.get(symbol)) for symbol, p in sorted(ledger.by_symbol.items())},
        "pnl_by_strategy": {f"{strategy} {symbol}": _pnl(p, marks.get(symbol))
                            for (strategy, symbol), p in sorted(ledger.by_strategy.items())},
        "pnl_total": {"net": sum((p.net(marks.get(s)) for s, p in ledger.by_symbol.items()), Decimal(0)), "fees": total_fees},
        "risk_decisions": dict(Counter(e["decision"] for e in events)),
        "rejections_by_rule": dict(Counter(e["rule"] for e in events if e["decision"] == "rejected")),
        "restarts": dict(restarts),
        "safety_mode_changes": [{"mode": c["mode"], "source": c["source"], "reason": c["reason"],
                                 "at_ns": c["created_at_ns"]} for c in store.safety_changes(run_id)],
    }


def write_session_summary(run_id: int, log_dir: str) -> Path | None:
    """Write the summary atomically (temp file, rename); returns its path, None when it could not be written."""
    try:
        summary = session_summary(run_id)
        directory = Path(log_dir)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"session_{run_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dump_json(summary) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - the summary is a report; its failure must not change the exit status
        log.error("session summary of run %d not written: %s", run_id, exc)
        return None
    log.info("session summary: %s (orders %d, fills %d, net PnL %s, fees %s)", path, summary["orders"]["total"],
             summary["fills"]["total"], format(summary["pnl_total"]["net"], "f"), format(summary["fees"], "f"))
    return path
