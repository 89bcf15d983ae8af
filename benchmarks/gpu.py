"""Every GPU figure in one prepared run (a few minutes on one GPU): one JSON line.

Training: a full step (forward, backward, AdamW, bf16 autocast) with relative attention
through the fused kernel (`ambient.attention`, FlexAttention), through the reference
skew, and with absolute positions, for three shapes; the figure to quote is relative
over absolute. Generation: `continue_tokens` (the CLI's sampler) with the bundled
model's shape at batch 1 and at large batches, replaying one captured CUDA graph a step
and, for the before, eager; beside a same-size Hugging Face GPT-2 on the same GPU when
`transformers` can be imported. Weights are random: speed does not depend on them, so
the run needs only torch and numpy (and transformers for the GPT-2 rows).

    PYTHONPATH=src:benchmarks python3 benchmarks/gpu.py [--quick] > gpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from ambient import decoder as decoders
from ambient import sampling
from ambient.config import ModelConfig
from ambient.model import Attention, MusicTransformer
from gpt2 import gpt2_seconds, same_size_gpt2


def seconds(fn, repeats: int) -> float:
    """Median wall seconds of fn() on the GPU, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_step_seconds(config: ModelConfig, batch: int, kernel: str, steps: int) -> float:
    torch.manual_seed(0)
    model = MusicTransformer(config).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    data = torch.randint(3, config.vocab_size, (batch, config.context + 1), device="cuda")

    def step():
        Attention.kernel = kernel
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = model(data[:, :-1], data[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    try:
        step()  # the first call compiles the fused kernel
        return seconds(step, steps)
    finally:
        Attention.kernel = "auto"


def training(quick: bool) -> list[dict]:
    rows = []
    shapes = [(4, 256, 32), (4, 256, 128), (8, 512, 32)][: 1 if quick else 3]
    for layers, width, batch in shapes:
        row = {"layers": layers, "d_model": width, "context": 1024, "batch": batch}
        for positions, kernel in (("relative", "auto"), ("relative", "skew"), ("absolute", "auto")):
            config = ModelConfig(n_layer=layers, d_model=width, n_head=8, context=1024, positions=positions)
            step = train_step_seconds(config, batch, kernel, steps=3 if quick else 8)
            name = "absolute" if positions == "absolute" else ("fused" if kernel == "auto" else "skew")
            row[f"{name}_tokens_per_s"] = round(batch * 1024 / step)
        row["fused_over_absolute"] = round(row["absolute_tokens_per_s"] / row["fused_tokens_per_s"], 2)
        row["skew_over_absolute"] = round(row["absolute_tokens_per_s"] / row["skew_tokens_per_s"], 2)
        rows.append(row)
    return rows


def ours_rate(model, primer: np.ndarray, batch: int, tokens: int, graph: bool) -> float:
    original = sampling.decoder_for
    if not graph:
        sampling.decoder_for = lambda model, cache: decoders.Decoder(model)
    try:
        run = lambda: sampling.continue_tokens(model, primer, length=tokens, variations=batch, seed=0)  # noqa: E731
        return batch * tokens / seconds(run, 1)
    finally:
        sampling.decoder_for = original


def generation(quick: bool) -> dict:
    torch.manual_seed(0)
    config = ModelConfig()  # the bundled model's shape: 4 layers, d 256, context 1,024
    model = MusicTransformer(config).cuda().eval()
    primer = np.random.default_rng(0).integers(3, config.vocab_size, 182).astype(np.uint16)
    tokens = 512 if quick else 2048
    out = {"batch1_graph_tokens_per_s": round(ours_rate(model, primer, 1, tokens, graph=True)),
           "batch1_eager_tokens_per_s": round(ours_rate(model, primer, 1, min(tokens, 512), graph=False))}
    for batch in (64, 512):
        out[f"batch{batch}_graph_tokens_per_s"] = round(ours_rate(model, primer, batch, 256, graph=True))
    gpt2 = same_size_gpt2(config, positions=len(primer) + tokens, device="cuda")
    if gpt2 is None:
        out["gpt2_missing"] = "transformers is not importable here"
        return out
    out["gpt2_batch1_tokens_per_s"] = round(tokens / gpt2_seconds(gpt2, primer, tokens))
    out["gpt2_batch512_tokens_per_s"] = round(512 * 256 / gpt2_seconds(gpt2, primer, 256, batch=512))
    out["batch1_over_gpt2"] = round(out["batch1_graph_tokens_per_s"] / out["gpt2_batch1_tokens_per_s"], 2)
    out["batch512_over_gpt2"] = round(out["batch512_graph_tokens_per_s"] / out["gpt2_batch512_tokens_per_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one training shape, 512 tokens: a smoke run")
    args = parser.parse_args()
    if not torch.cuda.is_available():  # `make bench` runs every script: say so and pass
        print(json.dumps({"benchmark": "gpu", "device": None, "missing": "torch sees no CUDA device here"}))
        return
    torch.backends.cuda.matmul.allow_tf32 = False  # generation compares fp32 with fp32
    report = {"benchmark": "gpu", "device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    start = time.perf_counter()
    report["generation"] = generation(args.quick)
    report["training"] = training(args.quick)
    report["seconds"] = round(time.perf_counter() - start)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
