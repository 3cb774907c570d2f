"""sentence-transformers on stdin lines with its default settings (batch 32, torch's default
threads), as a user would run it: the counterpart of `baynet embed < lines` in BENCHMARKS.md.
Writes one JSON array per line, like `baynet embed`, so both do the same work end to end.

    python3 benches/python/st_embed_lines.py ~/.cache/baynet/models/all-MiniLM-L6-v2 < lines.txt > /dev/null
"""

import json
import sys

from sentence_transformers import SentenceTransformer


def main():
    model = SentenceTransformer(sys.argv[1], device="cpu")
    lines = [line.rstrip("\n") for line in sys.stdin]
    vectors = model.encode(lines, normalize_embeddings=True)
    out = sys.stdout
    for vector in vectors:
        out.write(json.dumps([round(float(x), 6) for x in vector]))
        out.write("\n")


if __name__ == "__main__":
    main()
