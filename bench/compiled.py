"""A compiled kernel, measured: paperbroker's per-bar and per-order modules built with mypyc
into a scratch copy of the package, and the instructions of E0-E2 (bench/e2e.py) and W1
(bench/w1_orders.py) counted through the pure-Python package and through the copy.

Nothing compiled is written into the repository: the copy lives in a temporary folder
(``--keep DIR`` keeps it there instead) and is put first on ``PYTHONPATH`` for its runs.
Instructions are callgrind's, as bench/README.md describes: the whole process at two sizes,
the difference divided by the difference in bars (W1: orders), with
``PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1``.  Each run prints its fills and final equity,
and the script stops unless the compiled copy makes the same ones.

    python bench/compiled.py [--sizes 2000 6000] [--workloads E0 E1 E2 W1] [--keep DIR]

mypyc comes with mypy (the ``test`` extra); the build takes a minute or two.  The modules
it compiles are :data:`MODULES`; the records (models.py, records.py) and the facade stay
Python (see bench/README.md, "A compiled kernel").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: the modules a market-mode bar and an order run through, by path inside the package
MODULES = (
    "clock.py",
    "events.py",
    "guard.py",
    "simulator.py",
    "core/checks.py",
    "core/engine.py",
    "core/equity.py",
    "core/history.py",
    "core/ledger.py",
    "core/orders.py",
    "core/risk.py",
    "core/settings.py",
    "market/matching.py",
    "market/prices.py",
    "market/replay.py",
    # not market/source.py nor market/replay_sources.py: BarReplay reads the source's
    # ``_latest`` through a property while a chunk's rows are pulled, and a native
    # MarketSource reads and stores that attribute past a subclass's property (so the bar's
    # Quote, source.bar_quote, is built in Python here)
    "market/resting.py",
    "market/venue.py",
)
WORKLOADS = ("E0", "E1", "E2", "W1")


def build(folder: Path) -> Path:
    """Copy the package into ``folder`` and compile :data:`MODULES` there; return ``folder``."""
    target = folder / "paperbroker"
    shutil.copytree(ROOT / "src" / "paperbroker", target, ignore=shutil.ignore_patterns("__pycache__"))
    # the project's mypy settings alone (its [project] table is not for mypyc's setuptools
    # build), for the running Python, on the copy
    config = (ROOT / "pyproject.toml").read_text()
    config = config[config.index("[tool.mypy]") :]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    config = re.sub(r'python_version = "[\d.]+"', f'python_version = "{version}"', config)
    config = config.replace('files = ["src/paperbroker"]', 'files = ["paperbroker"]')
    (folder / "mypyc.toml").write_text(config)
    modules = [f"paperbroker/{name}" for name in MODULES]
    out = subprocess.run(
        [sys.executable, "-m", "mypyc", "--config-file", "mypyc.toml", *modules],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        sys.exit(f"mypyc failed:\n{out.stdout[-4000:]}\n{out.stderr[-2000:]}")
    missing = [name for name in MODULES if not list(target.glob(name.replace(".py", ".*.so")))]
    if missing:
        sys.exit(f"mypyc built no extension for {missing}")
    return folder


def job(workload: str, n: int) -> dict[str, Any]:
    """One run in this process: fills, final equity, and whether the venue is compiled."""
    sys.path.insert(0, str(HERE))
    import paperbroker.market.venue as venue

    if workload == "W1":
        import w1_orders

        w1_orders.run_paperbroker(*w1_orders.make_bars(n))  # it checks that every order filled
        fills, equity = n, 0.0
    else:
        import e2e

        fills, equity = e2e.run_paperbroker(workload, e2e.make_bars(n))
    return {"fills": fills, "equity": round(equity, 2), "compiled": not venue.__file__.endswith(".py")}


def instructions(workload: str, n: int, compiled: Path | None) -> tuple[int, dict[str, Any]]:
    """Callgrind's count for one job, and what the job printed."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    if compiled is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(compiled), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                sys.executable, __file__, "--job", workload, str(n),
            ],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        sys.exit(f"callgrind on {workload} {n} failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["compiled"] != (compiled is not None):
        sys.exit(f"{workload}: the run did not use the {'compiled' if compiled else 'pure-Python'} package")
    return int(found.group(1)), result


def measure(workloads: list[str], sizes: tuple[int, int], compiled: Path) -> None:
    """Print each workload's instructions per bar (per order for W1), pure and compiled."""
    small, large = sizes
    per: dict[tuple[str, bool], float] = {}
    print(f"{'':4s} {'pure Python':>14s} {'compiled':>14s}   (instructions per bar; W1 per order)")
    for workload in workloads:
        results = {}
        for kind, path in (("pure", None), ("compiled", compiled)):
            counts = []
            for n in (small, large):
                count, result = instructions(workload, n, path)
                counts.append(count)
                results[kind, n] = (result["fills"], result["equity"])
            per[workload, path is not None] = (counts[1] - counts[0]) / (large - small)
        if any(results["pure", n] != results["compiled", n] for n in sizes):
            sys.exit(f"{workload}: the compiled copy made other fills or equity: {results}")
        pure, fast = per[workload, False], per[workload, True]
        print(f"{workload:4s} {pure:>14,.0f} {fast:>14,.0f}   ({1 - fast / pure:.0%} less)", flush=True)
    if ("E0", False) in per and ("E2", False) in per:
        for flag, name in ((False, "pure Python"), (True, "compiled")):
            print(f"a market-mode order (E2 - E0), {name}: {per['E2', flag] - per['E0', flag]:,.0f}")


def main() -> None:
    """Parse the arguments; build and measure, or run one job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(2_000, 6_000))
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--keep", type=Path, help="build the compiled copy in this folder and keep it")
    parser.add_argument("--job", nargs=2, metavar=("WORKLOAD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        print(json.dumps(job(args.job[0], int(args.job[1]))))
        return
    if shutil.which("valgrind") is None:
        sys.exit("callgrind needs valgrind (apt-get install valgrind)")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        measure(args.workloads, tuple(args.sizes), build(args.keep))
        return
    with tempfile.TemporaryDirectory() as tmp:
        measure(args.workloads, tuple(args.sizes), build(Path(tmp)))


if __name__ == "__main__":
    main()
