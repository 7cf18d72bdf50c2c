"""Editor benchmark: one `scale` edit on files of 10 to 5,000 entries.

Compares, in the same run and on the same text:
  naive     ruamel.yaml round trip (load, change one value, dump), the baseline;
  window    runners-bot's editor as used (parses only the entries around the change);
  full      runners-bot's editor forced to parse the whole file (its fallback path);
  pipeline  the whole `simulate` pipeline, cold: parse once, plan, edit, validate the change;
  process   `runners-bot simulate` as a new process (what a user or CI runs), cold.
Times are the median of several runs (wall clock, noisy on shared machines: read the
ratios, not the absolute numbers). Peak memory is measured in a separate tracemalloc
pass so that it does not slow the timed runs.

Run: make bench   (or: .venv/bin/python -m bench.bench_editor [--sizes 10,100])
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from bot.commands.pipeline import Request, run
from bot.fleet.config import ConfigFiles, parse
from bot.fleet.yamledit import SetFields, apply_edit
from bot.fleet.yamlload import load

ROOT = Path(__file__).resolve().parent.parent
FLOOR_RATIO = 8.0


def make_file(count: int) -> str:
    """A seed-style repositories.yaml with ``count`` entries and a trailing section."""
    parts = ["# Generated benchmark fleet.\n", "repositories:\n"]
    for i in range(count):
        parts.append(
            f"  # Team {i % 17}: service {i}.\n"
            f"  - name: service-{i}\n"
            f"    org: Matchpoint-AI\n"
            f"    category: {('frontend', 'backend', 'general')[i % 3]}\n"
            f"    runnerScaleSetName: arc-svc{i}-runners\n"
            f"    scaling:\n      minRunners: {i % 3}\n      maxRunners: {10 + i % 20}  # peak\n"
            f"    profile: {('small', 'medium', 'large')[i % 3]}\n"
            f"    labels: [self-hosted, linux, x64, svc{i}]\n"
            f'    environment:\n      NODE_OPTIONS: "--max-old-space-size=4096"\n\n'
        )
    parts.append("globalOverrides:\n  nodeSelector:\n    matchpoint.ai/purpose: github-runners\n")
    return "".join(parts)


def naive(text: str, index: int) -> str:
    yaml = YAML()
    data = yaml.load(text)
    data["repositories"][index]["scaling"]["maxRunners"] = 49
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def cold_run(request: Request, files: ConfigFiles) -> object:
    """The pipeline as a new comment meets it: nothing parsed yet (parsing is memoised)."""
    parse.cache_clear()
    load.cache_clear()
    return run(request, files)


def simulate_process(config_dir: Path, comment: str) -> None:
    subprocess.run(
        [str(Path(sys.executable).parent / "runners-bot"), "simulate", "--config-dir", str(config_dir), comment],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / (1024 * 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,5000", help="comma-separated entry counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = ConfigFiles.read(ROOT).base
    rows = [measure(count, base) for count in sizes]
    print_table(rows)
    return verdict(rows)


def measure(count: int, base: str) -> tuple[int, int, dict[str, float], dict[str, float]]:
    text = make_file(count)
    index = count // 2
    edit = SetFields(index, f"service-{index}", max_runners=49)
    files = ConfigFiles(text, base)
    request = Request(f"/runners scale service-{index} max=49", "bench", "write")
    assert run(request, files).new_text == apply_edit(text, edit)
    heavy = 3 if count >= 5000 else 5 if count >= 1000 else 15
    light = 15 if count >= 1000 else 50
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "values").mkdir()
        (Path(tmp) / "values" / "repositories.yaml").write_text(text, encoding="utf-8")
        (Path(tmp) / "values" / "base-config.yaml").write_text(base, encoding="utf-8")
        timings = {
            "naive": median_seconds(lambda: naive(text, index), heavy),
            "window": median_seconds(lambda: apply_edit(text, edit), light),
            "full": median_seconds(lambda: apply_edit(text, edit, window=False), heavy),
            "pipeline": median_seconds(lambda: cold_run(request, files), heavy),
            "process": median_seconds(lambda: simulate_process(Path(tmp), request.comment), heavy),
        }
    memory = {
        "naive": peak_mib(lambda: naive(text, index)),
        "window": peak_mib(lambda: apply_edit(text, edit)),
        "pipeline": peak_mib(lambda: cold_run(request, files)),
    }
    print(f"  measured {count} entries", file=sys.stderr, flush=True)
    return count, len(text), timings, memory


def print_table(rows: list[tuple[int, int, dict[str, float], dict[str, float]]]) -> None:
    header = (
        f"{'entries':>7} {'KiB':>6} | {'naive ms':>9} {'window ms':>9} {'full ms':>8} {'pipeline ms':>11} "
        f"{'process ms':>10} | {'naive/window':>12} {'naive/full':>10} {'naive/pipeline':>14} {'naive/process':>13} | "
        f"{'window µs/entry':>15} | "
        f"{'peak MiB naive':>14} {'window':>7} {'pipeline':>8}"
    )
    print(header)
    print("-" * len(header))
    for count, size, t, m in rows:
        print(
            f"{count:>7} {size / 1024:>6.0f} | {t['naive'] * 1e3:>9.1f} {t['window'] * 1e3:>9.2f} {t['full'] * 1e3:>8.1f} "
            f"{t['pipeline'] * 1e3:>11.1f} {t['process'] * 1e3:>10.1f} | {t['naive'] / t['window']:>11.0f}x "
            f"{t['naive'] / t['full']:>9.1f}x {t['naive'] / t['pipeline']:>13.1f}x {t['naive'] / t['process']:>12.1f}x | "
            f"{t['window'] / count * 1e6:>15.2f} | "
            f"{m['naive']:>14.1f} {m['window']:>7.1f} {m['pipeline']:>8.1f}"
        )


def verdict(rows: list[tuple[int, int, dict[str, float], dict[str, float]]]) -> int:
    count, _, t, _ = max(rows, key=lambda r: r[0])
    ok = True
    print()
    for what, label in (
        ("window", "editor"),
        ("pipeline", "cold simulate pipeline"),
        ("process", "cold `runners-bot simulate`"),
    ):
        ratio = t["naive"] / t[what]
        passed = ratio >= FLOOR_RATIO
        ok = ok and passed
        print(
            f"floor: {label} ≥ {FLOOR_RATIO:.0f}x faster than the naive round trip at {count} entries: {ratio:.1f}x",
            "PASS" if passed else "FAIL",
        )
    if len(rows) >= 2:
        small, big = rows[-2], rows[-1]
        for what in ("window", "pipeline"):
            growth = (big[2][what] / small[2][what]) / (big[0] / small[0])
            print(
                f"growth: {what} time grew {big[2][what] / small[2][what]:.1f}x for {big[0] / small[0]:.0f}x entries "
                f"(≤ 1.0 of linear is sub-linear): {growth:.2f} of linear",
                "PASS" if growth <= 1.5 else "FAIL",
            )
            ok = ok and growth <= 1.5
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
