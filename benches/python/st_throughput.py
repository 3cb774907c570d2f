"""sentence-transformers throughput on the same texts as `cargo bench --bench logs -- embed`
(the first 32 log lines of the simulated experiment; needs the TSV written by that bench).

    python3 benches/python/st_throughput.py ~/.cache/baynet/models/all-MiniLM-L6-v2 \
        target/bench-data/logs-lines.tsv
"""

import sys
import time

import torch
from sentence_transformers import SentenceTransformer, models


def main():
    model_dir, tsv = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    word = models.Transformer(model_dir, max_seq_length=256)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pooling, models.Normalize()], device="cpu")
    with open(tsv, encoding="utf-8", errors="replace") as f:
        lines = [row.rstrip("\n").partition("\t")[2] for _, row in zip(range(32), f)]
    model.encode(lines, batch_size=32)
    best = None
    for _ in range(10):
        start = time.perf_counter()
        model.encode(lines, batch_size=32)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"sentence-transformers (torch {torch.__version__}, 2 threads): 32 log lines, batch 32: {32 / best:.0f} texts/s")


if __name__ == "__main__":
    main()
