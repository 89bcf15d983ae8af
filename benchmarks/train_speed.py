"""Training step time: relative attention (Music Transformer) beside absolute positions.

The same shape, batch, data and thread count for both, measured in one run and
interleaved (relative, absolute, relative, ...) so a busy machine slows both alike.
A step is forward, backward and the optimizer. Reports the median step time of each
and their ratio. Prints one JSON line.

    python benchmarks/train_speed.py [--context 1024] [--batch 4] [--steps 6] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from ambient.config import ModelConfig
from ambient.model import MusicTransformer


def step_time(model: MusicTransformer, optimizer, batch: torch.Tensor, autocast: bool) -> float:
    sync = torch.cuda.synchronize if batch.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=autocast):
        _, loss = model(batch[:, :-1], batch[:, 1:])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    autocast = device.type == "cuda"
    models = {}
    for positions in ("relative", "absolute"):
        torch.manual_seed(0)
        config = ModelConfig(context=args.context, n_layer=args.layers, d_model=args.d_model, positions=positions)
        model = MusicTransformer(config).to(device).train()
        models[positions] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4))
    batch = torch.randint(3, ModelConfig().vocab_size, (args.batch, args.context + 1), device=device)
    times = {name: [] for name in models}
    for _ in range(2):  # warm-up: allocator, kernels, caches
        for model, optimizer in models.values():
            step_time(model, optimizer, batch, autocast)
    for _ in range(args.steps):
        for name, (model, optimizer) in models.items():
            times[name].append(step_time(model, optimizer, batch, autocast))
    median = {name: statistics.median(t) for name, t in times.items()}
    tokens = args.batch * args.context
    print(json.dumps({
        "benchmark": "train_speed", "device": args.device, "threads": args.threads, "context": args.context,
        "batch": args.batch, "layers": args.layers, "d_model": args.d_model, "bf16_autocast": autocast,
        "relative_step_s": round(median["relative"], 4), "absolute_step_s": round(median["absolute"], 4),
        "relative_tokens_per_s": round(tokens / median["relative"]),
        "absolute_tokens_per_s": round(tokens / median["absolute"]),
        "relative_over_absolute": round(median["relative"] / median["absolute"], 3),
    }))


if __name__ == "__main__":
    main()
