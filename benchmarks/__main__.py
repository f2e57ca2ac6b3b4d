"""``make bench`` / ``python -m benchmarks``: fleet sizes at 0 ms and 20 ms latency, the per-object
baseline, cold start, the peak memory of a hostile config, and the continuity simulation at full size. Prints
Markdown."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from . import coldstart, fleet


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", default="1x1,10x10,50x40", help="GxT fleet sizes, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--baseline-sample", type=int, default=40, help="targets timed for the baseline")
    parser.add_argument("--skip-simulation", action="store_true")
    parser.add_argument("--simulate-hours", type=float, default=24.0)
    args = parser.parse_args()

    print(f"# acr-refresh benchmark ({time.strftime('%Y-%m-%d')})\n")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"- command: python -m benchmarks --sizes {args.sizes} --latency-ms {args.latency_ms:g} "
          f"--concurrency {args.concurrency}\n")
    for size in args.sizes.split(","):
        g, t = (int(x) for x in size.lower().split("x"))
        f = fleet.Fleet(generators=g, targets_per_generator=t, registries=max(1, min(5, g // 10)),
                        identities=max(1, min(3, g // 10)))
        results = fleet.measure(f, latency_ms=args.latency_ms, concurrency=args.concurrency,
                                baseline_sample=args.baseline_sample)
        print("\n".join(fleet.summary(results, args.latency_ms, args.concurrency)))
        print(flush=True)
    base, extra = coldstart.import_cost()
    print("## Cold start\n")
    print(f"- import azure.functions: {base * 1000:.0f} ms; import function_app after it: {extra * 1000:.1f} ms "
          "(median of 9 fresh processes)")
    print(f"- acr-refresh --help: {coldstart.help_time() * 1000:.0f} ms wall (median of 7, interpreter start "
          "included)\n", flush=True)
    from . import hostile

    print("## Hostile config (bounded rendering)\n")
    print("\n".join(hostile.report(hostile.measure(hostile.hostile_config()),
                                   hostile.measure(hostile.harmless_config()))) + "\n", flush=True)
    if not args.skip_simulation:
        from . import continuity

        print("## Continuity simulation\n")
        print("\n".join(continuity.report(continuity.simulate(hours=args.simulate_hours, seed=7))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
