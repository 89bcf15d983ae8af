"""Which device a command runs its model on: `auto`, `cpu`, `cuda`, `cuda:N` or `mps`.

`auto` takes a GPU when torch sees one (CUDA first, then Apple's MPS), else the CPU. A
device that is not there is one line naming it and what is there, before any work.
"""

from __future__ import annotations

from ambient.errors import AmbientError, ParameterError

CHOICES = "auto, cpu, cuda, cuda:N or mps"


def check_name(name: str) -> str:
    """`name` lower-cased if it is one of CHOICES, whatever this machine has (a workspace may
    be set up here to train on another); ParameterError otherwise."""
    text = (name or "auto").strip().lower()
    kind, colon, index = text.partition(":")
    if text not in ("auto", "cpu", "mps") and not (kind == "cuda" and (not colon or index.isdigit())):
        raise ParameterError("device", f"must be {CHOICES}, not {name!r}")
    return text


def resolve(name: str = "auto") -> str:
    """A torch device string for `name`, checked against what this machine has."""
    import torch

    text = check_name(name)
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else ("mps" if has_mps else "cpu")
    if text == "cpu":
        return "cpu"
    if text == "mps":
        if not has_mps:
            raise AmbientError("device mps: torch sees no Apple GPU here (use --device cpu or auto)")
        return "mps"
    _, colon, index = text.partition(":")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise AmbientError(f"device {text}: torch sees no GPU here (use --device cpu or auto)")
    if colon and int(index) >= count:
        raise AmbientError(f"device {text}: this machine has {count} GPU{'s' if count > 1 else ''} "
                           f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
    return text
