"""`make bench`: every benchmark of the lab, printed side by side (not a timed test)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import cluster_bench
import speed_bench
import toolkit_bench


def main() -> None:
    print("== cluster ==", flush=True)
    cluster_bench.run()
    print("\n== toolkit ==", flush=True)
    toolkit_bench.run()
    print("\n== speed: generation, produce with generation, produce_all 1M, replay 1M ==",
          flush=True)
    speed_bench.run()


if __name__ == "__main__":
    main()
