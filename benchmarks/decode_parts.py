"""Where a decoding step's time goes on one CPU thread: the measurements behind `ambient.decoder`.

Each pair is measured interleaved in one run (medians of `--rounds`), so a busy machine
slows both alike; quote the ratios. Prints one JSON line:

- the 17 matrix-vector products of a token of the bundled model's shape, weights stored
  (out, in) as `F.linear` takes them against (in, out) with the vector on the left;
- GELU of one feed-forward activation through oneDNN (a contiguous tensor) against
  ATen's own kernel (the strided halves `decoder._Scratch` holds), alone and inside whole
  decoder steps;
- SDPA against a hand-written attention for the one query of a step;
- per-op overhead: a decoder step of the bundled model against one of the same shape
  with d_model 16, whose arithmetic is nearly nothing;
- a decoder step against the model's own forward pass for one token on the same cache;
- a bound: a step without the relative embedding's add (the keys as they are: a wrong
  model, timed only to see what the add costs inside a step).

    python benchmarks/decode_parts.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

from ambient.checkpoint import load_model
from ambient.decoder import Decoder, _halves
from ambient.model import MusicTransformer


def timed(fn, repeats: int) -> float:
    """Microseconds per call."""
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def compare(pairs: dict, rounds: int, repeats: int) -> dict:
    """Median microseconds per call of each function, measured round-robin."""
    times = {name: [] for name in pairs}
    for _ in range(rounds):
        for name, fn in pairs.items():
            times[name].append(timed(fn, repeats))
    return {name: round(statistics.median(t), 1) for name, t in times.items()}


def linears(width: int = 256, layers: int = 4, vocab: int = 391) -> dict:
    shapes = [(width, 3 * width), (width, width), (width, 4 * width), (4 * width, width)] * layers + [(width, vocab)]
    out_in = [torch.randn(o, i) for i, o in shapes]
    in_out = [w.t().contiguous() for w in out_in]
    biases = [torch.randn(o) for _, o in shapes]
    vectors = [torch.randn(1, i) for i, _ in shapes]
    return {"linear_out_in": lambda: [F.linear(x, w, b) for x, w, b in zip(vectors, out_in, biases)],
            "linear_in_out": lambda: [torch.addmm(b, x, w) for x, w, b in zip(vectors, in_out, biases)]}


def attention(length: int = 768, heads: int = 8, head_dim: int = 32) -> dict:
    q = torch.randn(1, heads, 1, head_dim)
    k, v = torch.randn(1, heads, length, head_dim), torch.randn(1, heads, length, head_dim)

    def by_hand():
        scores = (q @ k.transpose(-1, -2)).mul_(1 / math.sqrt(head_dim))
        return scores.softmax(-1) @ v

    return {"sdpa": lambda: F.scaled_dot_product_attention(q, k, v), "attention_by_hand": by_hand}


def steps(model: MusicTransformer, start: int = 600, tokens: int = 200, modules: bool = False,
          onednn_gelu: bool = False, relative_add: bool = True) -> float:
    """Milliseconds per decoder step on a cache holding `start` tokens (`modules`: through the
    model's own forward pass, as sampling did before `ambient.decoder`; `onednn_gelu`: the
    step's GELU on contiguous tensors, which oneDNN takes)."""
    decoder, cache = Decoder(model), model.new_cache(1)
    if onednn_gelu:
        scratch = decoder._scratch(1)
        scratch.hidden_halves, scratch.gelu_halves = scratch.hidden, scratch.gelu
    if not relative_add:
        decoder._relative = lambda k, table, length, *_: k.narrow(2, 0, length)
    with torch.inference_mode():
        model(torch.randint(3, 300, (1, start), generator=torch.Generator().manual_seed(0)), cache=cache)
        token = torch.tensor([[200]])
        begin = time.perf_counter()
        for _ in range(tokens):
            model(token, cache=cache) if modules else decoder.step(token, cache)
    return (time.perf_counter() - begin) / tokens * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    h, out = torch.randn(1, 1024), torch.empty(1, 1024)
    h_halves, out_halves = _halves(h), _halves(out)
    report = {"benchmark": "decode_parts", "threads": 1}
    report.update(compare(linears(), args.rounds, 200))
    report.update(compare({"gelu_onednn": lambda: torch._C._nn.gelu(h, out=out),
                           "gelu_aten": lambda: torch._C._nn.gelu(h_halves, out=out_halves)}, args.rounds, 3000))
    report.update(compare(attention(), args.rounds, 1000))
    model, _ = load_model(None)
    tiny = MusicTransformer(dataclasses.replace(model.config, d_model=16)).eval()
    full, small, onednn, forward, no_add = [], [], [], [], []
    for _ in range(args.rounds):
        full.append(steps(model))
        small.append(steps(tiny))
        forward.append(steps(model, modules=True))
        onednn.append(steps(model, onednn_gelu=True))
        no_add.append(steps(model, relative_add=False))
    report["step_ms"], report["step_ms_d_model_16"] = round(statistics.median(full), 3), round(statistics.median(small), 3)
    report["step_ms_onednn_gelu"] = round(statistics.median(onednn), 3)
    report["step_ms_model_forward"] = round(statistics.median(forward), 3)
    report["step_ms_without_relative_add"] = round(statistics.median(no_add), 3)
    report["step_over_without_relative_add"] = round(report["step_ms"] / report["step_ms_without_relative_add"], 3)
    report["model_forward_over_decoder"] = round(report["step_ms_model_forward"] / report["step_ms"], 2)
    report["step_onednn_gelu_over_aten"] = round(report["step_ms_onednn_gelu"] / report["step_ms"], 3)
    report["linear_out_in_over_in_out"] = round(report["linear_out_in"] / report["linear_in_out"], 2)
    report["gelu_onednn_over_aten"] = round(report["gelu_onednn"] / report["gelu_aten"], 2)
    report["by_hand_over_sdpa"] = round(report["attention_by_hand"] / report["sdpa"], 2)
    report["overhead_share"] = round(report["step_ms_d_model_16"] / report["step_ms"], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
