"""Held-out negative log-likelihood, overall and by the kind of token predicted.

A model can be good at timing and poor at pitch: the split by token type (note-on,
note-off, time shift, velocity) shows which. The pieces are read in consecutive
windows of the model's context, unaugmented, as training validates.
"""

from __future__ import annotations

import numpy as np

from ambient.codec import END, NOTE_OFF, NOTE_ON, PAD, TIME_SHIFT, CodecConfig, encode_piece, velocity_offset
from ambient.notes import Note


def token_kinds(codec: CodecConfig) -> dict[str, tuple[int, int]]:
    return {"note_on": (NOTE_ON, NOTE_OFF), "note_off": (NOTE_OFF, TIME_SHIFT),
            "time_shift": (TIME_SHIFT, velocity_offset(codec)),
            "velocity": (velocity_offset(codec), velocity_offset(codec) + codec.velocity_bins), "end": (END, END + 1)}


def held_out_nll(model, pieces: list[list[Note]], codec: CodecConfig, batch: int = 4) -> dict:
    """Nats per token over every token of the pieces: {'overall': .., 'by_type': {kind: ..}, 'tokens': n}."""
    import torch
    import torch.nn.functional as F

    context = model.config.context
    rows = []
    for notes in pieces:
        tokens = encode_piece(notes, codec)
        for begin in range(0, max(1, len(tokens) - 1), context):
            window = np.full(context + 1, PAD, dtype=np.int64)
            chunk = tokens[begin:begin + context + 1]
            window[:len(chunk)] = chunk
            rows.append(window)
    losses, targets = [], []
    device = next(model.parameters()).device
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            x = torch.as_tensor(np.stack(rows[i:i + batch]), device=device)
            logits, _ = model(x[:, :-1])
            loss = F.cross_entropy(logits.float().transpose(1, 2), x[:, 1:], reduction="none")  # (B, T)
            keep = x[:, 1:] != PAD
            losses.append(loss[keep].cpu().numpy())
            targets.append(x[:, 1:][keep].cpu().numpy())
    loss, target = np.concatenate(losses), np.concatenate(targets)
    by_type = {}
    for kind, (low, high) in token_kinds(codec).items():
        chosen = (target >= low) & (target < high)
        if chosen.any():
            by_type[kind] = {"nats_per_token": round(float(loss[chosen].mean()), 4), "tokens": int(chosen.sum())}
    return {"nats_per_token": round(float(loss.mean()), 4), "tokens": int(len(loss)), "by_type": by_type}
