"""Drain3 on the same lines as `cargo bench --bench logs` (target/bench-data/logs-lines.tsv).

    pip install drain3
    cargo bench --bench logs -- drain      # writes the TSV and measures Baynet's miner
    python3 benches/python/drain3_compare.py target/bench-data/logs-lines.tsv

Runs Drain3's TemplateMiner twice, as in Baynet one tree per service (a miner per service):
with Drain3's defaults (depth 4, sim_th 0.4, max_children 100, no masking) and with masking
instructions equivalent to Baynet's masker (IPs, UUIDs, hex ids, timestamps, durations,
numbers). Prints lines/s by the wall clock and by the thread's CPU clock (comparable
when other processes share the machine) and the number of templates, best of `--repeat` runs.
"""

import argparse
import logging
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

logging.disable(logging.CRITICAL)

MASKS = [
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "TS"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b", "IP"),
    (r"\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b", "HEX"),
    (r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)\b", "DUR"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])", "NUM"),
]


def load(path):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            service, _, line = raw.rstrip("\n").partition("\t")
            rows.append((service, line))
    return rows


def run(rows, masked):
    miners = {}
    start = time.perf_counter()
    start_cpu = time.thread_time()
    for service, line in rows:
        miner = miners.get(service)
        if miner is None:
            config = TemplateMinerConfig()
            config.profiling_enabled = False
            if masked:
                config.masking_instructions = [MaskingInstruction(p, m) for p, m in MASKS]
            miner = TemplateMiner(config=config)
            miners[service] = miner
        miner.add_log_message(line)
    elapsed = time.perf_counter() - start
    cpu = time.thread_time() - start_cpu
    templates = sum(len(m.drain.clusters) for m in miners.values())
    return elapsed, cpu, templates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tsv")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = load(args.tsv)
    for masked in (False, True):
        best = best_cpu = None
        for _ in range(args.repeat):
            elapsed, cpu, templates = run(rows, masked)
            best = elapsed if best is None else min(best, elapsed)
            best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        label = "drain3 masked" if masked else "drain3 default"
        print(
            f"{label}: {len(rows)} lines in {best:.3f} s = {len(rows) / best:,.0f} lines/s "
            f"(thread CPU time {best_cpu:.3f} s = {len(rows) / best_cpu:,.0f} lines/s), "
            f"{templates} templates"
        )


if __name__ == "__main__":
    main()
