"""Decoding one token at a time: the model's forward pass for a single new token on a warm cache.

At batch 1 a step is bound by per-op overhead and by streaming every weight through
memory once, not by arithmetic: a step of a model of the same shape with d_model 16
takes a fifth to a third of the bundled model's (`benchmarks/decode_parts.py`). So this path

- calls no modules (no hooks, no dropout), keeps activations 2-D, folds biases and
  residuals into in-place matrix products, writes products into scratch tensors whose
  views are made once (`_Scratch`), and writes the new key and value into the cache
  with one copy;
- keeps each weight matrix transposed, (in, out), for `addmm` with the vector on the
  left (0.95-1.26x the (out, in) layout `F.linear` takes, alone: within the machine's
  noise, a smaller share of the whole than a first measurement suggested);
- streams the cached keys once a step (`_relative`) and takes ATen's GELU (`_halves`).

One step here takes 1.6x less time than the model's own forward pass for one token on
the same cache (decode_parts: 1.67x on 2026-12-04, 1.61-1.69x on 2026-12-05 with the
scratch tensors).

The numbers equal `MusicTransformer.forward`'s to float rounding (a test holds them to
1e-5). A `Decoder` is a snapshot: build one per generation, after any change of weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ambient.codec import NOTE_OFF, NOTE_ON
from ambient.model import KVCache, MusicTransformer, sounding_notes


@dataclass
class _Layer:
    ln1: tuple[torch.Tensor, torch.Tensor]
    qkv: tuple[torch.Tensor, torch.Tensor]      # (C, 3C), bias
    proj: tuple[torch.Tensor, torch.Tensor]
    ln2: tuple[torch.Tensor, torch.Tensor]
    ff1: tuple[torch.Tensor, torch.Tensor]
    ff2: tuple[torch.Tensor, torch.Tensor]
    attention: object                            # the layer's `Attention`, for its relative keys
    reach: torch.Tensor | None = None            # Er with the farthest row once more in front: (H, R + 1, hd)


def _transposed(linear) -> tuple[torch.Tensor, torch.Tensor]:
    return linear.weight.detach().t().contiguous(), linear.bias.detach()


def _norm(ln) -> tuple[torch.Tensor, torch.Tensor]:
    return ln.weight.detach(), ln.bias.detach()


class Decoder:
    """A snapshot of a model's weights laid out for one token at a time."""

    def __init__(self, model: MusicTransformer):
        self.config = model.config
        self.embed = model.embed.weight.detach()
        self.head = self.embed.t().contiguous()                             # (C, vocab): tied
        self.sounding = model.sounding.weight.detach().t().contiguous() if self.config.sounding_input else None
        self.position = model.position.weight.detach() if self.config.positions == "absolute" else None
        self.layers = [_Layer(_norm(b.ln1), _transposed(b.attn.qkv), _transposed(b.attn.proj), _norm(b.ln2),
                              _transposed(b.ff1), _transposed(b.ff2), b.attn) for b in model.blocks]
        self.ln_f = _norm(model.ln_f)
        self.scratch: _Scratch | None = None
        self.reach_rows = 0
        for layer in self.layers:
            if layer.attention.relative:
                rel = layer.attention.rel.detach()
                layer.reach = torch.cat([rel[:, :1], rel], dim=1)
                self.reach_rows = layer.reach.shape[1]

    def _scratch(self, B: int) -> _Scratch:
        if self.scratch is None or self.scratch.qkv.shape[0] != B:
            self.scratch = _Scratch(B, self.config.d_model, self.layers[0].ff1[0].shape[1],
                                    self.layers[0].attention.n_head, self.embed.dtype, self.embed.device)
        return self.scratch

    @torch.inference_mode()
    def step(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits (B, vocab) for one new token per row, idx (B, 1); the cache grows by one.

        Every op here costs a few microseconds of dispatch whatever its size, so the step
        is written in as few as it takes: biases and residuals folded into in-place
        matrix products (`x` is this step's own tensor), products written into scratch
        tensors whose views (query, new key and value, GELU's strided halves) are made once,
        the new key and value written through per-layer views made once per cache.
        """
        B, L = idx.shape[0], cache.length + 1
        if L > self.config.context:
            raise ValueError(f"{L} tokens exceed the context of {self.config.context}")
        s = self._scratch(B)
        x = self.embed.index_select(0, idx[:, 0])                           # (B, C): a copy, safe to add into
        C = x.shape[-1]
        if self.sounding is not None:
            x.addmm_(sounding_notes(idx, cache)[:, 0], self.sounding)
        if self.position is not None:
            x.add_(self.position[L - 1])
        near = min(L, self.reach_rows)
        for layer, (kv, k, v, table) in zip(self.layers, cache.layer_views()):
            torch.addmm(layer.qkv[1], torch.layer_norm(x, (C,), *layer.ln1), layer.qkv[0], out=s.qkv)
            kv.narrow(3, L - 1, 1).copy_(s.key_value)                        # this token's key and value
            keys = k.narrow(2, 0, L) if table is None else self._relative(k, table, L, near, cache.settled, layer.reach)
            y = F.scaled_dot_product_attention(s.query, keys, v.narrow(2, 0, L))  # (B, H, 1, hd)
            x.addmm_(y.view(B, C), layer.proj[0]).add_(layer.proj[1])
            torch.addmm(layer.ff1[1], torch.layer_norm(x, (C,), *layer.ln2), layer.ff1[0], out=s.hidden)
            torch._C._nn.gelu(s.hidden_halves, out=s.gelu_halves)
            x.addmm_(s.gelu, layer.ff2[0]).add_(layer.ff2[1])
        cache.length = L
        if self.config.positions == "relative":
            cache.settled = max(0, L - self.layers[0].attention.rel.shape[1])
        return torch.layer_norm(x, (C,), *self.ln_f) @ self.head

    @staticmethod
    def _relative(k: torch.Tensor, table: torch.Tensor, L: int, near: int, settled: int,
                  reach: torch.Tensor) -> torch.Tensor:
        """The first L keys plus the relative embedding of their distance to the one query at
        the end (B, H, L, hd).

        For that query the skew is the identity: q·(k_j + e_(L-1-j)) is the whole logit. Keys
        at distance R - 1 or more all get the farthest embedding and keep it, so they are
        added once (`settled` leading positions already hold theirs) and only the nearest
        R + 1 are added each step (`reach` covers the key that just moved past R): the
        cache is streamed once a step, not three times.
        """
        R1 = reach.shape[1]
        if settled < L - near:  # after a re-read of the window: settle every older key at once
            torch.add(k[:, :, settled:L - near], reach[:, :1], out=table[:, :, settled:L - near])
        torch.add(k.narrow(2, L - near, near), reach if near == R1 else reach.narrow(1, R1 - near, near),
                  out=table.narrow(2, L - near, near))
        return table.narrow(2, 0, L)


class _Scratch:
    """A step's products for one batch size, with the views the step reads them through,
    made once: each view costs a dispatch, as much as a small op."""

    def __init__(self, B: int, C: int, hidden: int, H: int, dtype, device):
        self.qkv = torch.empty(B, 3 * C, dtype=dtype, device=device)
        heads = self.qkv.view(B, 3, H, 1, C // H)
        self.query, self.key_value = heads[:, 0], heads[:, 1:]
        self.hidden = torch.empty(B, hidden, dtype=dtype, device=device)
        self.gelu = torch.empty_like(self.hidden)
        self.hidden_halves, self.gelu_halves = _halves(self.hidden), _halves(self.gelu)


def _halves(h: torch.Tensor) -> torch.Tensor:
    """(B, N), N even, seen as (B, 2, N/2) strided, for GELU by ATen's own kernel. On the
    CPU GELU of a contiguous float tensor goes to oneDNN, which costs about 11 us a call
    here whatever its size; this view of the same memory is not contiguous, so it stays
    with ATen, without turning oneDNN off for every thread. Alone the two are close
    (1.1-1.3x); inside a step, where oneDNN's call also disturbs the caches, ATen's makes
    the whole step 6-11 % faster (`benchmarks/decode_parts.py`)."""
    B, N = h.shape
    return h.view(B, N // 2, 2).transpose(1, 2)


class GraphDecoder(Decoder):
    """The same step with every shape fixed, so a GPU can replay it as one CUDA graph.

    Eager decoding at batch 1 on a GPU is launch-bound (444 tokens/s on an H200, slower
    than one CPU thread): each of a step's hundred-odd kernels waits on Python. Here the
    step reads the whole preallocated cache under a mask of the filled positions, finds
    its write position and relative distances from a length kept on the device, and so
    has no shape or number that changes from token to token: it is captured once and
    replayed. Off a GPU (`graph=False`) it runs eagerly, which is how the CPU tests hold
    it to `Decoder.step`.
    """

    def __init__(self, model: MusicTransformer, cache: KVCache, graph: bool = True):
        super().__init__(model)
        self.cache = cache
        device = cache.k.device
        B = cache.k.shape[1]
        self.token = torch.zeros(B, 1, dtype=torch.long, device=device)
        self.length = torch.zeros((), dtype=torch.long, device=device)   # filled positions before the token
        self.positions = torch.arange(self.config.context, device=device)
        self.synced = None                     # the cache length the device copy was last set from
        self.graph = None
        if graph:
            self.logits = self._capture()

    def _capture(self) -> torch.Tensor:
        self._sync()
        touched = (self.cache.kv, self.cache.last_on, self.cache.last_off)
        saved = [tensor.clone() for tensor in touched]
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream), torch.inference_mode():
                for _ in range(2):             # warm-up: kernels chosen and loaded outside the capture
                    self._static_step()
                    self.length.sub_(1)
            torch.cuda.current_stream().wait_stream(stream)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph), torch.inference_mode():
                return self._static_step()
        finally:  # the warm-up wrote a key, a value and maybe a note: put the cache back
            for tensor, kept in zip(touched, saved):
                tensor.copy_(kept)
            self.length.fill_(self.cache.length)

    def _sync(self) -> None:
        """The device length follows the host's after a re-read of the window (a slide)."""
        if self.synced != self.cache.length:
            self.length.fill_(self.cache.length)
            self.synced = self.cache.length

    @torch.inference_mode()
    def step(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        if cache is not self.cache:
            raise ValueError("a GraphDecoder steps only the cache it was built for")
        if cache.length + 1 > self.config.context:
            raise ValueError(f"{cache.length + 1} tokens exceed the context of {self.config.context}")
        self._sync()
        self.token.copy_(idx)
        if self.graph is not None:
            self.graph.replay()
            logits = self.logits
        else:
            logits = self._static_step()
        cache.length += 1
        self.synced = cache.length
        return logits

    def _static_step(self) -> torch.Tensor:
        """`Decoder.step` with fixed shapes; advances `self.length` on the device."""
        cache, idx, at = self.cache, self.token, self.length
        B = idx.shape[0]
        x = self.embed.index_select(0, idx[:, 0])
        C = x.shape[-1]
        if self.sounding is not None:
            x = x + self._sounding_after(idx[:, 0]) @ self.sounding
        if self.position is not None:
            x = x + self.position.index_select(0, at.view(1))
        filled = (self.positions <= at).view(1, 1, 1, -1)                 # keys 0 .. length
        where = at.view(1)
        for layer, (kv, k, v, _) in zip(self.layers, cache.layer_views()):
            attention = layer.attention
            h = torch.layer_norm(x, (C,), *layer.ln1)
            qkv = (h @ layer.qkv[0] + layer.qkv[1]).view(B, 3, attention.n_head, 1, attention.head_dim)
            kv.index_copy_(3, where, qkv[:, 1:])                              # this token's key and value
            keys = k
            if attention.relative:
                R = attention.rel.shape[1]
                row = R - 1 - torch.clamp(at - self.positions, 0, R - 1)        # Er row of each key's distance
                keys = k + attention.rel.index_select(1, row)
            y = F.scaled_dot_product_attention(qkv[:, 0], keys, v, attn_mask=filled)
            x = x + (y.view(B, C) @ layer.proj[0] + layer.proj[1])
            h = torch.layer_norm(x, (C,), *layer.ln2)
            x = x + (F.gelu(h @ layer.ff1[0] + layer.ff1[1]) @ layer.ff2[0] + layer.ff2[1])
        at.add_(1)
        return torch.layer_norm(x, (C,), *self.ln_f) @ self.head

    def _sounding_after(self, token: torch.Tensor) -> torch.Tensor:
        """(B, 128): pitches sounding once `token` is read, from the cache's last note-on and
        note-off positions (the rule of `model.sounding_notes`), updated in place."""
        cache, at = self.cache, self.length
        pitch = ((token - NOTE_ON) % 128).unsqueeze(1)                       # (B, 1)
        for last, first, end in ((cache.last_on, NOTE_ON, NOTE_OFF), (cache.last_off, NOTE_OFF, NOTE_OFF + 128)):
            event = ((token >= first) & (token < end)).unsqueeze(1)
            last.scatter_(1, pitch, torch.where(event, at, last.gather(1, pitch)))
        return (cache.last_on > cache.last_off).float()


def decoder_for(model: MusicTransformer, cache: KVCache) -> Decoder:
    """The fastest decoder for the cache's device: on a GPU each step replays one captured
    CUDA graph; elsewhere the eager step, which reads only the filled part of the cache.
    A GPU that cannot capture the graph decodes eagerly, with a warning, rather than fail."""
    if not cache.k.is_cuda:
        return Decoder(model)
    try:
        return GraphDecoder(model, cache)
    except RuntimeError as error:  # e.g. a driver without graph capture
        warnings.warn(f"CUDA graph capture failed ({error}); decoding step by step instead", stacklevel=2)
        return Decoder(model)
