"""Redraw a finished run's figures, ``table1.md`` and ``REPORT.md`` from its ``summary.json``.

    python -m nprelu.report DIR                 # DIR/summary.json -> DIR/*.png, table1.md, REPORT.md
    python -m nprelu.report DIR --reaggregate   # first recompute the means, intervals and their
                                                # methods from the per-seed numbers (``runs``)

``--reaggregate`` is how results computed under older interval methods are brought under the
current ones (``nprelu.runner.aggregate.reaggregate``; docs/statistics.md) without running
an experiment again: every per-seed number stays as it is, the summary is rewritten atomically.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..checkpoint import atomic_write_bytes
from ..runner.aggregate import reaggregate
from ..runner.summary import as_json
from . import write_all


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nprelu.report", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="a run's output directory, holding summary.json")
    ap.add_argument("--reaggregate", action="store_true",
                    help="recompute means, intervals and methods from the per-seed numbers first")
    args = ap.parse_args(argv)
    path = args.out.expanduser() / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"{ap.prog}: error: {path}: {exc}", file=sys.stderr)
        return 2
    if args.reaggregate:
        summary = reaggregate(summary)
        text = json.dumps(as_json(summary), indent=1, sort_keys=True, allow_nan=False)
        atomic_write_bytes(path, text.encode())
    write_all(summary, path.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
