"""Sampling continuations of a primer from a Music Transformer.

The primer is the whole seed or its last N seconds. Generation runs past the context
window by sliding it: when the key/value cache is full, the newest half of the window
is re-read in one pass and decoding goes on, so every step sees at least half a
context of history, as it did in training, at a small fraction of the cost of
recomputing the prefix each step. Sampling is temperature, then top-k, top-p and
min-p filtering, driven by one seeded generator so a seed reproduces a file bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ambient.codec import (DEFAULT_CODEC, END, NOTE_OFF, NOTE_ON, PAD, START, CodecConfig, decode, encode,
                          normalize, restate)
from ambient.config import CONTINUATION, Sampling
from ambient.controls import Constraint, Controls, PlayState
from ambient.decoder import decoder_for
from ambient.errors import ParameterError
from ambient.model import MusicTransformer
from ambient.notes import Note, piece_end, shift


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Logits (B, V) with the excluded tokens at -inf."""
    if s.temperature != 1.0:
        logits = logits / s.temperature
    if s.top_k and s.top_k < logits.size(-1):
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.min_p > 0:
        probs = logits.softmax(-1)
        logits = logits.masked_fill(probs < s.min_p * probs.max(-1, keepdim=True).values, float("-inf"))
    if s.top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs >= s.top_p  # keep the token that crosses p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def draw(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row (B, 1) from probabilities (B, V): `torch.multinomial(probs, 1)`'s own method.

    For one draw, multinomial takes argmax(p / q) with q ~ Exp(1) (the Gumbel-max trick
    with the exp applied), after checking that p is finite, non-negative and not all zero;
    those checks read the tensor back to the host twice a step. Ours are guaranteed by
    construction (a softmax with at least one finite logit), so this draws the same token
    from the same generator state without them: same seed, same music, a step faster,
    and nothing that waits on the device.
    """
    q = torch.empty_like(probs).exponential_(1, generator=generator)
    return (probs / q).argmax(-1, keepdim=True)


_ALL_SILENT = bytes([1]) * 128


def release_sounding(logits: torch.Tensor, states: list[PlayState], *, in_place: bool = False) -> torch.Tensor:
    """Logits (B, V) whose note-offs can only end a note that is sounding.

    A note-off for a silent pitch does nothing, yet on transcriptions the bundled model puts
    about 73 % of its note-off probability on silent pitches (it loses track of which notes
    sound among ragged onsets and velocity changes), so notes it meant to end pile up
    (polyphony 12-18 where the primer had 4). The model's decision to end a note now is kept: the probability of
    every note-off together is unchanged, shared among the sounding pitches in the
    proportions the model gave them. With nothing sounding no note-off is offered. A note
    struck at this very instant is not offered one either: the codec makes every note at
    least one step long, so the model never saw a note end where it began. `in_place`: the
    caller's own tensor is changed and returned (the sampler's, a step cheaper).
    """
    offs = logits[:, NOTE_OFF:NOTE_OFF + 128]
    silent = bytearray(_ALL_SILENT * offs.shape[0])   # in bytes: cheaper than an index assignment into a tensor
    for b, state in enumerate(states):
        for p, note in state.notes.items():
            if note.step < state.now:
                silent[b * 128 + p] = 0
    silent = torch.frombuffer(silent, dtype=torch.bool).view(offs.shape).to(offs.device)
    weight = (offs - offs.amax(-1, keepdim=True)).exp()       # (B, 128): the offs' probabilities, unnormalised
    share = weight.sum(-1, keepdim=True) / weight.masked_fill(silent, 0).sum(-1, keepdim=True)
    if not in_place:
        logits = logits.clone()
        offs = logits[:, NOTE_OFF:NOTE_OFF + 128]
    offs.add_(share.log()).masked_fill_(silent, float("-inf"))
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


def window(tokens: np.ndarray, length: int, state: PlayState) -> np.ndarray:
    """The last `length` tokens of a stream, as the model should read them after a slide.

    A note whose note-on has left the window still sounds, but the model can no longer
    see it, so it would never choose to end it: a stuck note. Such notes are stated
    again at the window's start (`codec.restate`), and the window keeps its length by
    reading that many fewer old tokens.
    """
    head: list[int] = []
    for _ in range(4):  # a shorter tail can strand more notes: settle in a few rounds
        first = len(tokens) - (length - len(head))
        head = restate(state.before(first), length // 8)   # at most an eighth of the window
        if len(tokens) - (length - len(head)) == first:
            break
    tail = tokens[max(0, len(tokens) - (length - len(head))):]
    return np.concatenate([np.asarray(head, dtype=np.int64), tail.astype(np.int64)])


@torch.inference_mode()
def continue_tokens(model: MusicTransformer, primer: np.ndarray, *, length: int | None = None,
                    seconds: float | None = None, sampling: Sampling = Sampling(),
                    variations: int = CONTINUATION.variations, seed: int = CONTINUATION.seed,
                    controls: Controls | None = None, codec: CodecConfig = DEFAULT_CODEC,
                    primer_notes: list[Note] | None = None, on_step=None) -> list[np.ndarray]:
    """New tokens after the primer, one array per variation: the engine beneath `continue_piece`,
    for callers that hold tokens already (the stream's running window).

    Stops after `length` tokens, or once every variation has moved `seconds` forward;
    `on_step(tokens, done)` hears each step, `done` the share of that finished (0-1).
    `controls` constrain every step (see `ambient.controls`), made concrete for `primer_notes`,
    the notes the primer stands for as the codec writes them (decoded from it when not given).
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
    context, vocab = model.config.context, model.config.vocab_size
    keep = context // 2
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    streams = [primer.astype(np.int64).tolist() for _ in range(variations)]
    states = [PlayState(codec) for _ in range(variations)]
    for t in streams[0]:
        for state in states:
            state.feed(t)
    primer_end = states[0].now
    for state in states:
        state.mark()
    constraint = None
    if controls is not None and controls.active:
        constraint = Constraint(controls, primer_notes if primer_notes is not None else decode(primer, codec),
                                vocab, codec)
    banned = torch.zeros(vocab, dtype=torch.bool, device=device)
    banned[[PAD, START, END]] = True  # a continuation neither restarts nor ends the piece
    static = None if constraint is None else torch.as_tensor(constraint.static, device=device)
    cache = model.new_cache(variations)

    def read(length: int) -> torch.Tensor:
        """Re-read the newest `length` tokens of every stream into an empty cache; the last logits."""
        rows = np.stack([window(np.asarray(s), length, st) for s, st in zip(streams, states)])
        cache.length = 0
        return model(torch.as_tensor(rows, device=device), cache=cache)[0][:, -1]

    logits = read(min(len(streams[0]), context if len(streams[0]) < context else keep))
    decoder = decoder_for(model, cache)
    finished_at = [-1] * variations
    new = []
    for step in range(budget):
        logits = release_sounding(logits.float().masked_fill_(banned, float("-inf")), states, in_place=True)
        if constraint is not None:
            dynamic = torch.tensor([constraint.note_on_bias(st) for st in states], device=device)
            offs = torch.as_tensor(np.stack([constraint.note_off_bias(st) for st in states]), device=device)
            logits = logits + static
            logits[:, NOTE_ON:NOTE_OFF] += dynamic.unsqueeze(1)
            logits[:, NOTE_OFF:NOTE_OFF + 128] += offs
        token = draw(filter_logits(logits, sampling).softmax(-1), generator)           # (B, 1)
        new.append(token)
        for b, t in enumerate(token[:, 0].tolist()):
            streams[b].append(t)
            states[b].feed(t)
            if target_steps is not None and finished_at[b] < 0 and states[b].now - primer_end >= target_steps:
                finished_at[b] = step + 1
        if on_step:
            moved = min(st.now for st in states) - primer_end
            on_step(step + 1, (step + 1) / budget if target_steps is None else min(1.0, moved / target_steps))
        if target_steps is not None and all(f >= 0 for f in finished_at):
            break
        if step + 1 == budget:
            break
        if cache.length == context:  # slide: re-read the newest half of the window
            logits = read(keep)
        else:
            logits = decoder.step(token, cache)
    tokens = torch.cat(new, 1).cpu().numpy().astype(np.uint16)
    ends = [f if f >= 0 else tokens.shape[1] for f in finished_at]
    return [row[:end] for row, end in zip(tokens, ends)]


@dataclass(frozen=True)
class Continuation:
    """One variation: the primer as the model read it (its last `primer_seconds`, from 0) and what
    the model played after it, decoded together (`notes`), so a note the primer struck and the
    model held on is one note."""
    notes: list[Note]
    primer: list[Note]
    primer_end: float                 # seconds: where the primer stops and the continuation begins

    @property
    def new(self) -> list[Note]:
        """The notes the model began (at or after `primer_end`)."""
        return [n for n in self.notes if n.start >= self.primer_end - 1e-9]


def continue_piece(model: MusicTransformer, primer: list[Note], *, primer_seconds: float | None = None,
                   program: int = 0, codec: CodecConfig = DEFAULT_CODEC, **kwargs) -> list[Continuation]:
    """Continue a primer: the front door the CLI, the studio and eval use. `kwargs` are
    `continue_tokens`'s: `length` or `seconds`, `sampling`, `variations`, `seed`, `controls`, `on_step`."""
    tokens, window = primer_tokens(primer, primer_seconds, codec)
    continuations = continue_tokens(model, tokens, codec=codec, primer_notes=normalize(window, codec), **kwargs)
    end = piece_end(window)
    return [Continuation(decode(np.concatenate([tokens, c]), codec, program=program), window, end)
            for c in continuations]
