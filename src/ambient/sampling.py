"""Sampling continuations of a primer from a Music Transformer.

The primer is the whole seed or its last N seconds. Generation runs past the context
window by sliding it: when the key/value cache is full, the newest half of the window
is re-read in one pass and decoding goes on, so every step sees at least half a
context of history, as it did in training, at a small fraction of the cost of
recomputing the prefix each step. Sampling is temperature, then top-k, top-p and
min-p filtering, driven by one seeded generator so a seed reproduces a file bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from ambient.codec import DEFAULT_CODEC, END, PAD, START, TIME_SHIFT, CodecConfig, decode, encode, velocity_offset
from ambient.config import CONTINUATION, Sampling
from ambient.errors import ParameterError
from ambient.model import MusicTransformer
from ambient.notes import Note, piece_end, shift


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Logits (B, V) with the excluded tokens at -inf."""
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.size(-1):
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.min_p > 0:
        probs = logits.softmax(-1)
        logits = logits.masked_fill(probs < s.min_p * probs.max(-1, keepdim=True).values, float("-inf"))
    if s.top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= s.top_p  # keep the token that crosses p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def primer_tokens(notes: list[Note], primer_seconds: float | None = None,
                  codec: CodecConfig = DEFAULT_CODEC) -> tuple[np.ndarray, list[Note]]:
    """Tokens for the primer and the primer notes they stand for (its last N seconds)."""
    if primer_seconds is not None:
        if primer_seconds <= 0:
            raise ParameterError("primer_seconds", f"must be above 0, got {primer_seconds}")
        cut = max(0.0, piece_end(notes) - primer_seconds)
        notes = shift([Note(max(n.start, cut), n.end, n.pitch, n.velocity, n.program)
                       for n in notes if n.end > cut], -cut)
    return encode(notes, codec, add_start=True), notes


@torch.inference_mode()
def continue_tokens(model: MusicTransformer, primer: np.ndarray, *, length: int | None = None,
                    seconds: float | None = None, sampling: Sampling = Sampling(),
                    variations: int = CONTINUATION.variations, seed: int = CONTINUATION.seed,
                    codec: CodecConfig = DEFAULT_CODEC, on_step=None) -> list[np.ndarray]:
    """New tokens after the primer, one array per variation.

    Stops after `length` tokens, or once every variation has moved `seconds` forward.
    """
    sampling.check()
    if (length is None) == (seconds is None):
        raise ParameterError("length", "and seconds: give exactly one of the two")
    if length is not None and length <= 0:
        raise ParameterError("length", f"must be at least 1 token, got {length}")
    if seconds is not None and seconds <= 0:
        raise ParameterError("seconds", f"must be above 0, got {seconds}")
    if variations < 1:
        raise ParameterError("variations", f"must be at least 1, got {variations}")
    budget = length if length is not None else int(seconds * 400) + 1000  # ample tokens per second
    target_steps = None if seconds is None else int(round(seconds / codec.step_seconds))
    context = model.config.context
    keep = context // 2
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    history = torch.as_tensor(primer.astype(np.int64), device=device).unsqueeze(0).repeat(variations, 1)
    banned = torch.zeros(model.config.vocab_size, dtype=torch.bool, device=device)
    banned[[PAD, START, END]] = True  # a continuation neither restarts nor ends the piece
    shift_steps = torch.zeros(model.config.vocab_size, dtype=torch.long, device=device)
    shift_steps[TIME_SHIFT:velocity_offset(codec)] = torch.arange(1, codec.max_shift_steps + 1)
    elapsed = torch.zeros(variations, dtype=torch.long, device=device)
    finished_at = torch.full((variations,), -1, dtype=torch.long, device=device)
    cache = model.new_cache(variations)
    window = history[:, -(context if history.size(1) < context else keep):]
    logits = model(window, cache=cache)[0][:, -1]
    new = []
    for step in range(budget):
        filtered = filter_logits(logits.float().masked_fill(banned, float("-inf")), sampling)
        token = torch.multinomial(filtered.softmax(-1), 1, generator=generator)  # (B, 1)
        new.append(token)
        if on_step:
            on_step(step + 1)
        if target_steps is not None:
            elapsed += shift_steps[token[:, 0]]
            finished_at = torch.where((finished_at < 0) & (elapsed >= target_steps), step + 1, finished_at)
            if bool((finished_at >= 0).all()):
                break
        if step + 1 == budget:
            break
        if cache.length == context:  # slide: re-read the newest half of the window
            recent = torch.cat([history, torch.cat(new, 1)], 1)[:, -keep:]
            cache.length = 0
            logits = model(recent, cache=cache)[0][:, -1]
        else:
            logits = model(token, cache=cache)[0][:, -1]
    tokens = torch.cat(new, 1).cpu().numpy().astype(np.uint16)
    ends = [int(f) if f >= 0 else tokens.shape[1] for f in finished_at.tolist()]
    return [row[:end] for row, end in zip(tokens, ends)]


def generate(model: MusicTransformer, primer: list[Note], *, primer_seconds: float | None = None,
             program: int = 0, codec: CodecConfig = DEFAULT_CODEC, **kwargs) -> list[list[Note]]:
    """Primer followed by its continuation, as notes, for each variation."""
    start, _ = primer_tokens(primer, primer_seconds, codec)
    continuations = continue_tokens(model, start, codec=codec, **kwargs)
    return [decode(np.concatenate([start, c]), codec, program=program) for c in continuations]
