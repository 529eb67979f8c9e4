"""What `erpsync sync` imports before it starts work, timed in fresh processes (`bench/sync.py` prints it).

.venv/bin/python bench/sync.py --imports-only
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

IMPORTS = (
    "import sys, time; started, cpu = time.perf_counter(), time.process_time(); "
    "import erpsync.cli, erpsync.cli_sync, erpsync.sync, erpsync.db.pool, erpsync.unchanged; "
    "print(time.perf_counter() - started, time.process_time() - cpu, 'aiohttp' in sys.modules, "
    "'erpsync.shopify.client' in sys.modules)"
)


def env_for_imports() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}


def import_seconds(env: dict[str, str], runs: int = 7) -> None:
    """What `erpsync sync` imports before it starts work (the CLI, the run, the unchanged check), in fresh
    processes: the median of `runs` (wall, and CPU, which a busy machine inflates less), and whether the
    Shopify client and aiohttp came with it."""
    results = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", IMPORTS], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        results.append((float(output[0]), float(output[1]), output[2], output[3]))
    seconds = statistics.median(result[0] for result in results)
    cpu = statistics.median(result[1] for result in results)
    print(
        f"erpsync sync imports before work: median {seconds:.3f} s wall, {cpu:.3f} s CPU over {runs} processes "
        f"(target <= 0.4); aiohttp imported: {results[0][2]}, Shopify client imported: {results[0][3]}"
    )
