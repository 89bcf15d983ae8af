"""The Music Transformer: a decoder-only transformer with relative global attention.

Follows Huang et al. 2018, "Music Transformer" (arXiv:1809.04281): every head learns
an embedding per relative distance, and the memory-efficient "skew" of section 3.4
turns Q·Erᵀ into the (query, key) relative logits without the O(L²·D) tensor of Shaw
et al. 2018. Distances past `max_relative_distance` share the farthest embedding.
Layout in the spirit of nanoGPT: one dataclass config, pre-LayerNorm blocks,
`forward(idx, targets) -> (logits, loss)`.

One addition to the paper (`sounding_input`): each position also reads which pitches are
sounding after its token, a 128-wide mask worked out from the tokens themselves and
projected into the residual stream. A performance-encoded model must otherwise find
every unended note-on by attention alone; on transcriptions (velocity before most notes,
notes ringing for seconds) the bundled model without it put 73 % of its note-off
probability on pitches that were not sounding, so the notes it meant to end piled up.

Incremental decoding keeps a preallocated key/value cache. For a single new query at
the end of the sequence the skew is the identity, so the relative term folds into
the keys: q·(K + Er)ᵀ, and one fused attention call does the whole step.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ambient.attention import flex_relative, fused_available
from ambient.codec import NOTE_OFF, NOTE_ON, PAD
from ambient.config import ModelConfig


QUERY_BLOCK = 128  # queries per block of relative attention; 64-256 measured alike, 128 fastest on CPU


class KVCache:
    """Preallocated keys and values for every layer; `length` tokens are filled."""

    def __init__(self, config: ModelConfig, batch: int, device=None, dtype=torch.float32):
        hd = config.d_model // config.n_head
        shape = (config.n_layer, batch, config.n_head, config.context, hd)
        # keys and values side by side, so the decoder writes a token's pair with one copy
        self.kv = torch.zeros((config.n_layer, batch, 2, config.n_head, config.context, hd), device=device, dtype=dtype)
        self.k, self.v = self.kv[:, :, 0], self.kv[:, :, 1]                 # (layers, B, H, context, hd) each
        self.length = 0
        # for the decoder (`ambient.decoder`): each key plus the relative embedding of its distance
        # from the newest token, and how many leading positions already hold key + the farthest
        # embedding, which no longer changes
        self.keys_placed = torch.zeros(shape, device=device, dtype=dtype) if config.positions == "relative" else None
        self.settled = 0
        self._views = None
        # per pitch, the position of its last note-on and last note-off so far (-1: none)
        self.last_on = torch.full((batch, 128), -1, dtype=torch.long, device=device)
        self.last_off = torch.full((batch, 128), -1, dtype=torch.long, device=device)

    def layer_views(self) -> list[tuple[torch.Tensor, ...]]:
        """Per layer, as views: keys and values together (B, 2, H, context, hd), keys, values and
        keys placed with their relative embeddings (B, H, context, hd; None for absolute positions)."""
        if self._views is None:
            tables = self.keys_placed.unbind(0) if self.keys_placed is not None else [None] * len(self.k)
            self._views = list(zip(self.kv.unbind(0), self.k.unbind(0), self.v.unbind(0), tables))
        return self._views


def sounding_notes(idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
    """(B, T, 128) floats: 1 where a pitch sounds once token t is read (its last note-on
    came after its last note-off). With a cache, notes carry over from the tokens before;
    a cache read from position 0 starts silent."""
    B, T = idx.shape
    offset = cache.length if cache is not None else 0
    position = torch.arange(offset, offset + T, device=idx.device).expand(B, T)       # (B, T)
    pitch = ((idx - NOTE_ON) % 128).unsqueeze(-1)                                      # (B, T, 1)

    def last(event: torch.Tensor, before: torch.Tensor | None) -> torch.Tensor:
        at = torch.full((B, T, 128), -1, dtype=torch.long, device=idx.device)
        at.scatter_(2, pitch, torch.where(event, position, -1).unsqueeze(-1))          # (B, T, 128)
        at = at.cummax(dim=1).values
        return at if before is None else torch.maximum(at, before.unsqueeze(1))

    fresh = cache is None or cache.length == 0
    on = last((idx >= NOTE_ON) & (idx < NOTE_OFF), None if fresh else cache.last_on)
    off = last((idx >= NOTE_OFF) & (idx < NOTE_OFF + 128), None if fresh else cache.last_off)
    if cache is not None:  # in place: a captured CUDA graph (ambient.decoder) reads these very tensors
        cache.last_on.copy_(on[:, -1])
        cache.last_off.copy_(off[:, -1])
    return (on > off).float()


def skew(qe: torch.Tensor) -> torch.Tensor:
    """Relative logits (B, H, Tq, Tk) from qe = Q·Erᵀ, Er ordered farthest to nearest.

    Query i sits at absolute position Tk - Tq + i, so its logit for key j belongs to
    distance Tk - Tq + i - j, found in column j + Tq - 1 - i of qe. Section 3.4's trick
    shifts every row at once: pad one column on the left, read the buffer back with
    rows one shorter, starting Tq elements in. Entries above the causal diagonal are
    garbage and are masked by the caller. With Tq == Tk this is exactly the paper's
    pad-reshape-slice.
    """
    B, H, Tq, Tk = qe.shape
    padded = F.pad(qe, (1, 0))                       # (B, H, Tq, Tk + 1)
    flat = padded.reshape(B, H, Tq * (Tk + 1))       # (B, H, Tq * (Tk + 1))
    return flat[..., Tq:Tq + Tq * Tk].reshape(B, H, Tq, Tk)


class Attention(nn.Module):
    kernel = "auto"  # "auto": FlexAttention on GPUs when training or scoring; "skew": the reference everywhere

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.d_model // config.n_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.relative = config.positions == "relative"
        self.context = config.context
        self._table, self._table_version = None, None
        if self.relative:
            # Er of the paper, one per head; row r is distance R - 1 - r (farthest first)
            self.rel = nn.Parameter(torch.randn(config.n_head, config.max_relative_distance, self.head_dim) * 0.02)

    def relative_keys(self, length: int) -> torch.Tensor:
        """Er for distances length-1 .. 0, farthest first: (H, length, hd)."""
        R = self.rel.shape[1]
        if length <= R:
            return self.rel[:, R - length:]
        if torch.is_grad_enabled():
            return torch.cat([self.rel[:, :1].expand(-1, length - R, -1), self.rel], dim=1)
        # decoding asks for this every step: build the clipped table once per weights
        version = (self.rel._version, self.rel.data_ptr())
        if self._table_version != version:
            far = self.rel[:, :1].expand(-1, max(self.context - R, 0), -1)
            self._table = torch.cat([far, self.rel], dim=1)              # (H, context, hd)
            self._table_version = version
        return self._table[:, self._table.shape[1] - length:]

    def _relative_block(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, first: int) -> torch.Tensor:
        """Attention of a block of queries at positions first, first+1, ... over the keys before them.

        Only the keys up to the block's last query are read, so nothing above the causal
        diagonal is computed: with blocks of QUERY_BLOCK queries the (T, T) logits shrink
        to a staircase under the diagonal, about half the work and a working set that
        stays in cache. And past `max_relative_distance` every distance shares the
        farthest embedding, so the skew is needed only over the last R + block keys (the
        band); older keys all get the same q·r_far, one number per query.
        """
        Tq = q.shape[2]
        end = first + Tq                                                 # keys 0 .. end-1
        R = self.rel.shape[1]
        width = min(end, R + Tq)                                         # keys end-width .. end-1: the band
        qe = q @ self.relative_keys(width).transpose(1, 2)               # (B, H, Tq, width)
        causal = torch.ones(Tq, width, dtype=torch.bool, device=q.device).tril(width - Tq)
        bias = skew(qe).masked_fill(~causal, float("-inf"))              # (B, H, Tq, width)
        if width < end:  # keys before the band: all at distance >= R, the farthest embedding
            far = q @ self.rel[:, 0].unsqueeze(-1)                       # (B, H, Tq, 1)
            bias = torch.cat([far.expand(-1, -1, -1, end - width), bias], dim=-1)  # (B, H, Tq, end)
        bias = bias / math.sqrt(self.head_dim)
        return F.scaled_dot_product_attention(q, k[:, :, :end], v[:, :, :end], attn_mask=bias)  # (B, H, Tq, hd)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        if cache is not None:
            start = cache.length
            cache.k[layer, :, :, start:start + T] = k
            cache.v[layer, :, :, start:start + T] = v
            k = cache.k[layer, :, :, :start + T]                       # (B, H, L, hd)
            v = cache.v[layer, :, :, :start + T]
        L = k.shape[2]
        if T == 1:
            # one query at the end: its relative logits need no skew
            keys = k + self.relative_keys(L) if self.relative else k
            y = F.scaled_dot_product_attention(q, keys, v)              # (B, H, 1, hd)
        elif not self.relative:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if L == T else \
                F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(T, L, dtype=torch.bool,
                                                                             device=x.device).tril(L - T))
        elif cache is None and self.kernel == "auto" and fused_available(q):
            y = flex_relative(q, k, v, self.rel)                         # one fused kernel (ambient.attention)
        else:
            y = torch.cat([self._relative_block(q[:, :, a:a + QUERY_BLOCK], k, v, L - T + a)
                           for a in range(0, T, QUERY_BLOCK)], dim=2)     # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = Attention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.ff1 = nn.Linear(config.d_model, 4 * config.d_model)
        self.ff2 = nn.Linear(4 * config.d_model, config.d_model)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, cache=None, layer=0):
        if not self.training:  # decoding is op-bound: skip the no-op dropout calls
            x = x + self.attn(self.ln1(x), cache, layer)
            return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))
        x = x + self.drop(self.attn(self.ln1(x), cache, layer))
        return x + self.drop(self.ff2(F.gelu(self.ff1(self.ln2(x)))))


class MusicTransformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        if config.positions == "absolute":
            self.position = nn.Embedding(config.context, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied input and output embeddings
        if config.sounding_input:
            self.sounding = nn.Linear(128, config.d_model, bias=False)
        self.apply(self._init)
        if config.sounding_input:  # starts as a no-op, so a model without it fine-tunes into it smoothly
            nn.init.zeros_(self.sounding.weight)
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "ff2.weight")):  # GPT-2's scaled residual init
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None):
        """Logits (B, T, vocab) for tokens idx (B, T); loss (nats/token, pad masked) with targets."""
        B, T = idx.shape
        offset = cache.length if cache is not None else 0
        if offset + T > self.config.context:
            raise ValueError(f"{offset + T} tokens exceed the context of {self.config.context}")
        x = self.embed(idx)                                              # (B, T, C)
        if self.config.sounding_input:
            x = x + self.sounding(sounding_notes(idx, cache))            # (B, T, C)
        if self.config.positions == "absolute":
            x = x + self.position(torch.arange(offset, offset + T, device=idx.device))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += T
            cache.settled = min(cache.settled, offset)  # keys from offset on were just (re)written
        logits = self.head(self.ln_f(x))                                 # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=PAD)
        return logits, loss

    def new_cache(self, batch: int) -> KVCache:
        p = next(self.parameters())
        return KVCache(self.config, batch, device=p.device, dtype=p.dtype)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
