"""A same-size Hugging Face GPT-2: the yardstick every generation-speed figure is set beside.

Same layers, width, heads, feed-forward (4x) and vocabulary as our model, random weights
(speed does not depend on them, and nothing is downloaded), positions enough for the
primer and every new token (GPT-2 cannot slide a window). It samples with top-p as ours
does, through `generate` with its own KV cache. `transformers` is not one of our
dependencies: `pip install transformers` to run the comparison.
"""

from __future__ import annotations

import time

import numpy as np
import torch


def same_size_gpt2(config, positions: int, device="cpu"):
    """A GPT-2 shaped like `config` (an `ambient.config.ModelConfig`), or None without transformers."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
        from transformers.utils import logging
    except ImportError:
        return None
    logging.set_verbosity_error()  # random weights: its warnings about special tokens do not apply
    shape = GPT2Config(vocab_size=config.vocab_size, n_positions=positions, n_embd=config.d_model,
                       n_layer=config.n_layer, n_head=config.n_head, n_inner=4 * config.d_model,
                       bos_token_id=None, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    return GPT2LMHeadModel(shape).to(device).eval()


@torch.inference_mode()
def gpt2_seconds(gpt2, primer: np.ndarray, tokens: int, batch: int = 1, top_p: float = 0.95) -> float:
    """Wall seconds for GPT-2 to sample exactly `tokens` new tokens after `primer` in each of `batch` rows."""
    device = next(gpt2.parameters()).device
    ids = torch.as_tensor(primer.astype(np.int64), device=device).unsqueeze(0).expand(batch, -1).contiguous()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    out = gpt2.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, min_new_tokens=tokens,
                        do_sample=True, top_p=top_p, top_k=0, pad_token_id=0)
    sync()
    seconds = time.perf_counter() - start
    assert out.shape[1] == ids.shape[1] + tokens
    return seconds
