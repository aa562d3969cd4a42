"""`kraken-runtime verify-capture`: replay recorded WS v2 traffic through the books and check every checksum.

    kraken-runtime verify-capture [--json] [--depth N] [--precision SYMBOL=P/Q ...] FILE...

Prints, per file and per (symbol, channel): frames read, checksums checked, matched, mismatched, resyncs
(a snapshot that replaced a book). Exit 0 when every checksum matched (and at least one was checked),
1 on any mismatch (or none found), 2 on unreadable input with a one-line reason. The replay itself is
core/kraken/verify.py; this module only parses arguments, reads files and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from itertools import chain
from typing import Any, TextIO

from kraken_runtime.core.kraken.verify import (
    DEFAULT_DEPTH,
    CaptureError,
    FileReport,
    json_lines_head,
    parse_precision,
    verify_capture_lines,
    verify_capture_text,
)
from kraken_runtime import exitcodes

NAME = "verify-capture"
_DEPTHS = (10, 25, 100, 500, 1000)
# A capture longer than this, in JSON lines, is replayed as it is read, a chunk at a time: reading a long one
# whole (and splitting it) cost ~0.4 us per line in fresh memory, 10 % of the replay (docs/PERFORMANCE.md).
_CHUNK_CHARS = 1 << 20


def _precision_arg(text: str) -> tuple[str, int, int]:
    try:
        return parse_precision(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _depth_arg(text: str) -> int:
    try:
        depth = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"depth must be an integer, got {text!r}") from None
    if depth < 1:
        raise argparse.ArgumentTypeError(f"depth must be >= 1, got {depth}")
    return depth


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", metavar="FILE", nargs="+", help="capture: JSON lines, or {init, updates}")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--depth",
        type=_depth_arg,
        default=DEFAULT_DEPTH,
        help=f"subscribed depth when the capture has no subscribe ack (default {DEFAULT_DEPTH}; "
        f"Kraken offers {', '.join(map(str, _DEPTHS))})",
    )
    parser.add_argument(
        "--precision",
        type=_precision_arg,
        action="append",
        default=[],
        metavar="SYMBOL=P/Q",
        help="the pair's price/qty precision, e.g. BTC/USD=1/8 (repeatable); without it the wire text is "
        "hashed, unless the capture carries instrument frames",
    )


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="replay a recorded capture and check every book checksum",
        description="Replay recorded Kraken WS v2 traffic through the L2/L3 books and check every checksum.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _format_table(reports: list[FileReport]) -> str:
    header = ("symbol", "channel", "frames", "checked", "matched", "mismatched", "resyncs", "depth", "precision")
    lines = []
    for report in reports:
        lines.append(f"{report.name}: {report.frames_read} frames read")
        rows = [header] + [
            (
                s.symbol,
                s.channel,
                str(s.frames),
                str(s.checked),
                str(s.matched),
                str(s.mismatched),
                str(s.resyncs),
                str(s.depth),
                s.precision,
            )
            for s in report.streams
        ]
        if len(rows) == 1:
            lines.append("  (no book or level3 frames)")
            continue
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        for s in report.streams:
            if s.first_mismatch:
                lines.append(f"  first mismatch {s.symbol} {s.channel}: {s.first_mismatch}")
            if s.unchecked:
                lines.append(f"  {s.symbol} {s.channel}: {s.unchecked} frame(s) without a checkable checksum")
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    precisions = {symbol: (price, qty) for symbol, price, qty in args.precision}
    reports: list[FileReport] = []
    for name in args.files:
        try:
            with open(name, encoding="utf-8") as handle:
                head = handle.read(_CHUNK_CHARS)
                if len(head) == _CHUNK_CHARS and json_lines_head(head):  # long JSON lines: streamed
                    report = verify_capture_lines(name, _numbered_lines(handle, head), default_depth=args.depth,
                                                  precisions=precisions)
                else:
                    report = verify_capture_text(name, head + handle.read(), default_depth=args.depth,
                                                 precisions=precisions)
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            print(f"{NAME}: cannot read {name}: {reason}", file=err)
            return exitcodes.USAGE
        except CaptureError as error:
            print(f"{NAME}: unreadable capture: {error.reason}", file=err)
            return exitcodes.USAGE
        reports.append(report)
    checked = sum(report.checked for report in reports)
    ok = checked > 0 and all(report.ok for report in reports)
    if args.json:
        document = {"ok": ok, "checksums_checked": checked, "files": [report.as_dict() for report in reports]}
        print(json.dumps(document, indent=2), file=out)
    else:
        print(_format_table(reports), file=out)
        mismatched = sum(s.mismatched for report in reports for s in report.streams)
        if checked == 0:
            print("FAILED: no book checksums found", file=out)
        elif mismatched:
            print(f"FAILED: {mismatched} of {checked} checksums mismatched", file=out)
        else:
            print(f"OK: all {checked} checksums matched", file=out)
    return exitcodes.OK if ok else exitcodes.FAILED


def _numbered_lines(handle: TextIO, head: str) -> Iterator[tuple[int, str]]:
    """``enumerate(text.split("\n"), start=1)`` of the whole file, read a chunk at a time (``head`` is the
    first chunk): the lines of each chunk are enumerated in C, chained, so a line costs no Python call here."""

    def chunks() -> Iterator[Any]:
        number, rest, chunk = 1, "", head
        while chunk:
            lines = (rest + chunk).split("\n")
            rest = lines.pop()
            yield enumerate(lines, number)
            number += len(lines)
            chunk = handle.read(_CHUNK_CHARS)
        yield enumerate((rest,), number)

    return chain.from_iterable(chunks())


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser for this command (tests, and `python -m kraken_runtime.commands.verify_capture`)."""
    parser = argparse.ArgumentParser(prog=f"kraken-runtime {NAME}", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
