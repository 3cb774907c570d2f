#!/usr/bin/env python3
"""Compare Baynet's Bayesian network engine with pgmpy.

Loads a BIF file with pgmpy's BIFReader, computes the posterior marginal of
every variable with VariableElimination given hard evidence, times it, and
prints JSON: {"marginals": {VAR: {STATE: p}}, "seconds": t, "load_seconds": t}.
With --ours FILE (JSON from `cargo run --example bn_compare`, or any JSON whose
"marginals" or top level is {VAR: {STATE: p}}) it also reports the largest
absolute difference between the two sets of marginals.

Usage:
  python3 pgmpy_compare.py NET.bif [-e VAR=STATE ...] [--ours ours.json] [--repeat N]
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bif")
    ap.add_argument("-e", "--evidence", action="append", default=[], help="VAR=STATE (repeatable)")
    ap.add_argument("--ours", help="JSON file with our marginals to compare against")
    ap.add_argument("--repeat", type=int, default=3, help="timing repetitions (best is reported)")
    args = ap.parse_args()

    from pgmpy.inference import VariableElimination
    from pgmpy.readwrite import BIFReader

    t0 = time.perf_counter()
    model = BIFReader(args.bif).get_model()
    load_seconds = time.perf_counter() - t0

    evidence = {}
    for spec in args.evidence:
        var, _, state = spec.partition("=")
        evidence[var.strip()] = state.strip()

    states = {v: list(model.get_cpds(v).state_names[v]) for v in model.nodes()}
    best = float("inf")
    marginals = {}
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        infer = VariableElimination(model)
        marginals = {}
        for var in sorted(model.nodes()):
            if var in evidence:
                marginals[var] = {s: (1.0 if s == evidence[var] else 0.0) for s in states[var]}
                continue
            q = infer.query([var], evidence=evidence or None, show_progress=False)
            names = q.state_names[var]
            marginals[var] = {s: float(p) for s, p in zip(names, q.values)}
        best = min(best, time.perf_counter() - t0)

    out = {"marginals": marginals, "seconds": best, "load_seconds": load_seconds}
    if args.ours:
        with open(args.ours) as f:
            ours = json.load(f)
        ours = ours.get("marginals", ours)
        diff = 0.0
        for var, dist in marginals.items():
            for s, p in dist.items():
                diff = max(diff, abs(p - ours[var][s]))
        out["max_abs_diff_vs_ours"] = diff
        out["ours_seconds"] = json.load(open(args.ours)).get("seconds")
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
