"""Generation speed on one CPU thread: our KV-cached decoding beside a same-size GPT-2.

Ours: `continue_tokens` (the sampler the CLI uses: controls' state, the stuck-note guard,
top-p) with the bundled model, 2,048 new tokens after seed 1, the window sliding at its
context. GPT-2 (`benchmarks/gpt2.py`): the same shape, primer and token count, Hugging
Face's `generate` with its KV cache and top-p. The two are interleaved for `--rounds`
rounds, so a busy machine slows both alike; the figure to quote is the ratio of the
medians. `--recompute N` also times the original system's method (a full forward pass
over the window for every token) on N tokens. Prints one JSON line.

    python benchmarks/generate_speed.py [--model DIR] [--tokens 2048] [--rounds 3] [--recompute 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from gpt2 import gpt2_seconds, same_size_gpt2

from ambient.checkpoint import load_model
from ambient.codec import END, PAD, START
from ambient.midi import read_midi
from ambient.sampling import Sampling, continue_tokens, filter_logits, primer_tokens
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


def ours_seconds(model, primer: np.ndarray, tokens: int) -> float:
    start = time.perf_counter()
    out = continue_tokens(model, primer, length=tokens, sampling=Sampling(), seed=0)[0]
    seconds = time.perf_counter() - start
    assert len(out) == tokens
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--recompute", type=int, default=0, help="tokens for the original method (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_model(args.model)
    primer, _ = primer_tokens(read_midi(resolve_primer("1")))
    gpt2 = same_size_gpt2(model.config, positions=len(primer) + args.tokens)
    ours_seconds(model, primer, 64)  # warm up allocator and kernels
    if gpt2 is not None:
        gpt2_seconds(gpt2, primer, 64)
    times = {"ours": [], "gpt2": []}
    for _ in range(args.rounds):
        times["ours"].append(ours_seconds(model, primer, args.tokens))
        if gpt2 is not None:
            times["gpt2"].append(gpt2_seconds(gpt2, primer, args.tokens))
    rate = {name: args.tokens / statistics.median(t) for name, t in times.items() if t}
    report = {
        "benchmark": "generate_speed", "threads": 1, "context": model.config.context,
        "layers": model.config.n_layer, "d_model": model.config.d_model, "primer_tokens": len(primer),
        "tokens": args.tokens, "rounds": args.rounds, "cached_tokens_per_s": round(rate["ours"], 1),
        "seconds_for_2048_cached": round(2048 / rate["ours"], 2),
        "gpt2_tokens_per_s": round(rate["gpt2"], 1) if gpt2 is not None else None,
        "over_gpt2": round(rate["ours"] / rate["gpt2"], 2) if gpt2 is not None else None,
        "over_gpt2_each_round": [round(g / o, 2) for o, g in zip(times["ours"], times["gpt2"])],
    }
    if gpt2 is None:
        report["gpt2_missing"] = "pip install transformers to set GPT-2 beside ours"
    if args.recompute:
        start = time.perf_counter()
        recompute_prefix(model, primer, args.recompute, Sampling(), seed=0)
        report["recompute_tokens_per_s"] = round(args.recompute / (time.perf_counter() - start), 1)
        report["cached_over_recompute"] = round(rate["ours"] / report["recompute_tokens_per_s"], 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
