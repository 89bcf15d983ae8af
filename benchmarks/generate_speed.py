"""Generation speed: KV-cached decoding against recomputing the prefix at every step.

The original system re-ran the whole prefix for each new token. Both methods here use
the same model, primer, sampling and thread count in one run; the figure to quote is
the ratio. Prints one JSON line.

    python benchmarks/generate_speed.py [--model DIR] [--tokens 2048]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ambient.checkpoint import load_model
from ambient.codec import END, PAD, START
from ambient.sampling import Sampling, continue_tokens, filter_logits, primer_tokens
from ambient.midi import read_midi
from ambient.seeds import resolve_primer


@torch.inference_mode()
def recompute_prefix(model, primer: np.ndarray, length: int, sampling: Sampling, seed: int) -> np.ndarray:
    """The original's method: a full forward pass over the window for every token."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.as_tensor(primer.astype(np.int64)).unsqueeze(0)
    banned = torch.zeros(model.config.vocab_size, dtype=torch.bool)
    banned[[PAD, START, END]] = True
    for _ in range(length):
        logits = model(tokens[:, -model.config.context:])[0][:, -1]
        filtered = filter_logits(logits.masked_fill(banned, float("-inf")), sampling)
        token = torch.multinomial(filtered.softmax(-1), 1, generator=generator)
        tokens = torch.cat([tokens, token], 1)
    return tokens[0, len(primer):].numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--baseline-tokens", type=int, default=None,
                        help="tokens for the slow method (default: the same number)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_model(args.model)
    primer, _ = primer_tokens(read_midi(resolve_primer("1")))
    sampling = Sampling()
    continue_tokens(model, primer, length=32)  # warm up allocator and kernels

    start = time.perf_counter()
    cached = continue_tokens(model, primer, length=args.tokens, sampling=sampling, seed=0)[0]
    cached_seconds = time.perf_counter() - start

    baseline_tokens = args.baseline_tokens or args.tokens
    start = time.perf_counter()
    recompute_prefix(model, primer, baseline_tokens, sampling, seed=0)
    baseline_seconds = time.perf_counter() - start

    cached_rate = len(cached) / cached_seconds
    baseline_rate = baseline_tokens / baseline_seconds
    print(json.dumps({
        "benchmark": "generate_speed", "threads": 1, "context": model.config.context,
        "layers": model.config.n_layer, "d_model": model.config.d_model, "primer_tokens": len(primer),
        "tokens": len(cached), "cached_tokens_per_s": round(cached_rate, 1),
        "recompute_tokens_per_s": round(baseline_rate, 1), "speedup": round(cached_rate / baseline_rate, 1),
        "seconds_for_2048_cached": round(2048 / cached_rate, 2),
        "seconds_for_2048_recompute": round(2048 / baseline_rate, 1),
    }))


if __name__ == "__main__":
    main()
