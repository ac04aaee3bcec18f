"""The benchmark gate: a quick subset whose *ratios* are held against committed baselines.

CI cannot compare times (its machines differ and are shared), but it can compare ratios measured
in one run against a peer on the same machine: the numba kernels against the per-window reference
of the same indicator, and a first backtest against a bare Python start. Each ratio is compared
with ``bench/baselines.json``; a **clear regression** fails the gate (exit 1):

* a higher-is-better ratio (a speed-up) below its baseline divided by ``--tolerance`` (3 by default);
* a lower-is-better ratio (a cost relative to bare Python) above its baseline times ``--tolerance``.

A factor of 3 is far outside the noise seen between runs on a loaded two-core machine (docs/benchmarks.md
records them) and well inside what a real regression does (a kernel falling back to Python is
100x, an eager import of vectorbt at start-up 4x).

    python bench/gate.py                 # measure, compare, write artifacts/bench/gate.json; exit 1 on a regression
    python bench/gate.py --update        # measure and write the new baselines (commit bench/baselines.json)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_isolated  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINES = Path(__file__).resolve().parent / "baselines.json"
OUTPUT = ROOT / "artifacts" / "bench" / "gate.json"
DEFAULT_TOLERANCE = 3.0


def measure() -> dict[str, dict[str, float | str]]:
    """The gate's ratios: ``{name: {"value", "better": "higher"|"lower", "what"}}``."""
    ratios: dict[str, dict[str, float | str]] = {}
    indicators = run_isolated("bench_indicators.py", "--bars", "20000", "--reference-scale", "0.1")
    for row in indicators["indicators"]:
        ratios[f"indicators.{row['indicator']}.speedup"] = {
            "value": float(row["speedup"]), "better": "higher",
            "what": f"numba kernel vs the per-window reference, {row['bars']:,} bars, window {indicators['window']}"}
    startup = run_isolated("bench_startup.py", "--repeats", "2")
    bare = float(startup["bare_python"])
    for key, what in (("cli_backtest", "`tradepulse backtest` on the 1h sample"),
                      ("import_and_first_backtest", "import tradepulse + a first backtest")):
        ratios[f"startup.{key}.vs_bare_python"] = {"value": round(float(startup[key]) / bare, 2), "better": "lower",
                                                   "what": f"{what}, as a multiple of `python -c pass`"}
    return ratios


def compare(measured: dict, baselines: dict, tolerance: float) -> list[str]:
    """One line per clear regression (empty: the gate passes)."""
    problems = []
    for name, baseline in baselines.items():
        if name not in measured:
            problems.append(f"{name}: in the baselines but not measured (update the baselines if it was removed on purpose)")
            continue
        value, base = float(measured[name]["value"]), float(baseline["value"])
        if baseline["better"] == "higher" and value < base / tolerance:
            problems.append(f"{name}: {value:,.2f} < baseline {base:,.2f} / {tolerance:g}")
        if baseline["better"] == "lower" and value > base * tolerance:
            problems.append(f"{name}: {value:,.2f} > baseline {base:,.2f} x {tolerance:g}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description="The benchmark gate (ratios against committed baselines)")
    parser.add_argument("--update", action="store_true", help="write the measured ratios as the new baselines")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="how many times worse is a regression")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the JSON result goes")
    args = parser.parse_args()
    measured = measure()
    baselines = json.loads(BASELINES.read_text()) if BASELINES.is_file() else {}
    problems = [] if args.update else compare(measured, baselines.get("ratios", {}), args.tolerance)
    result = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
              "tolerance": args.tolerance, "ratios": measured, "baselines": baselines.get("ratios", {}), "regressions": problems}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'ratio':<52}{'measured':>12}{'baseline':>12}  better")
    for name, row in measured.items():
        base = baselines.get("ratios", {}).get(name, {}).get("value")
        print(f"{name:<52}{row['value']:>12,.2f}{'' if base is None else format(base, ',.2f'):>12}  {row['better']}")
    if args.update:
        BASELINES.write_text(json.dumps({"updated_at": result["measured_at"], "machine": result["machine"], "ratios": measured},
                                        indent=2) + "\n")
        print(f"baselines written to {BASELINES.relative_to(ROOT)}; commit it with the change that moved them")
        return 0
    for line in problems:
        print(f"REGRESSION {line}")
    print(f"gate: {'failed' if problems else 'passed'} ({len(measured)} ratios, tolerance {args.tolerance:g}x); {args.output.relative_to(ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
