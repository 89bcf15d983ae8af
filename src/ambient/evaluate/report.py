"""`ambient eval`: how well a model continues held-out music, as one JSON file and one picture.

For each held-out piece long enough, the first `primer_seconds` are the primer and the
next `seconds` the real continuation. The model continues the primer for as long; both
continuations are measured alike (key fidelity against the primer, features, drift,
silences, degenerate output, shared runs with the training data), then the generated set
is compared with the real one feature by feature. A fixed seed gives the same numbers.

One continuation per piece is a noisy measure: on 16 transcribed pieces the bundled model's
key fidelity moved between 0.38 and 0.56 from seed to seed. `takes` continues each primer
several times (in one batch, so it costs far less than as many runs), every summary counts
every take, and each summary carries its standard error, so two models are told apart only
by a difference larger than the noise.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ambient.config import Sampling
from ambient.controls import Controls
from ambient.errors import AmbientError
import ambient.evaluate.metrics as metrics
from ambient.notes import Note, shift


@dataclass
class EvalConfig:
    pieces: int = 16               # held-out pieces continued (the longest first, if more are given)
    primer_seconds: float = 20.0
    seconds: float = 60.0          # continuation length, generated and real
    seed: int = 0
    takes: int = 1                 # continuations of each primer (summaries count them all)
    sampling: Sampling = field(default_factory=Sampling)
    controls: Controls = field(default_factory=Controls)


def window(notes: list[Note], start: float, end: float) -> list[Note]:
    """The notes that start in [start, end), cut at end, moved so `start` is 0."""
    return shift([Note(n.start, min(n.end, end), n.pitch, n.velocity, n.program)
                  for n in notes if start <= n.start < end], -start)


def summarise(values: list[float]) -> dict:
    """Mean, extremes, count and the mean's standard error (None below two values)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": None, "min": None, "max": None, "n": 0, "sem": None}
    sem = round(float(np.std(finite, ddof=1) / math.sqrt(len(finite))), 4) if len(finite) > 1 else None
    return {"mean": round(float(np.mean(finite)), 4), "min": round(float(np.min(finite)), 4),
            "max": round(float(np.max(finite)), 4), "n": len(finite), "sem": sem}


def takes(row: dict) -> list[dict]:
    """Every generated continuation's measures in a per-piece row (the first, then the others)."""
    return [row["generated"], *row.get("more_takes", [])]


def measure(primer: list[Note], continuation: list[Note], seconds: float, corpus=None) -> dict:
    """Every per-piece measure of one continuation (times from 0 to `seconds`)."""
    row = {
        "key_fidelity": metrics.key_fidelity(primer, continuation),
        "notes": len(continuation),
        "density_drift": metrics.density_drift(continuation, 0.0, seconds),
        "polyphony_drift": metrics.polyphony_drift(continuation, 0.0, seconds),
        "longest_onset_gap": metrics.longest_onset_gap(continuation, 0.0, seconds),
        "longest_silence": metrics.longest_silence(continuation, 0.0, seconds),
        "degenerate": metrics.degenerate(continuation, 0.0, seconds),
        "onsets_per_10s": metrics.onsets_per_window(continuation, 0.0, seconds, 10.0).tolist(),
    }
    if corpus is not None:
        row["longest_shared_run"] = metrics.longest_shared_run(continuation, corpus)
    return row


def evaluate(model, card, pieces: dict[str, list[Note]], cfg: EvalConfig,
             corpus: list[list[Note]] | None = None, on_piece=None) -> dict:
    """The whole report as a dict (see the module doc). `card`: the model's `checkpoint.ModelCard`;
    `pieces`: name -> notes."""
    from ambient.evaluate.likelihood import held_out_nll
    from ambient.sampling import continue_piece

    codec = card.codec
    span = cfg.primer_seconds + cfg.seconds
    # a piece that opens in silence is primed from its first note (a real record whose first
    # note comes 33 s in had an empty primer); one too short for primer and continuation is left out
    primed = {name: shift(notes, -min(n.start for n in notes)) for name, notes in pieces.items() if notes}
    usable = {name: notes for name, notes in primed.items() if max(n.start for n in notes) >= span * 0.9}
    if not usable:
        raise AmbientError(f"no held-out piece is long enough: each needs notes up to about {span:.0f} s "
                           f"(primer {cfg.primer_seconds:g} s + continuation {cfg.seconds:g} s)")
    if cfg.takes < 1:
        raise AmbientError(f"takes must be at least 1, got {cfg.takes}")
    chosen = sorted(usable)[:cfg.pieces]
    rows, real_feats, made_feats = [], [], []
    for i, name in enumerate(chosen):
        notes = usable[name]
        primer = window(notes, 0.0, cfg.primer_seconds)
        real = window(notes, cfg.primer_seconds, span)
        made = continue_piece(model, primer, seconds=cfg.seconds, sampling=cfg.sampling, seed=cfg.seed + i,
                              controls=cfg.controls, codec=codec, variations=cfg.takes)
        primer_end = max(n.end for n in primer)
        generated = [window(m.notes, primer_end, primer_end + cfg.seconds) for m in made]
        measured = [measure(primer, g, cfg.seconds, corpus) for g in generated]
        row = {"piece": name, "real": measure(primer, real, cfg.seconds), "generated": measured[0]}
        if cfg.takes > 1:
            row["more_takes"] = measured[1:]
        rows.append(row)
        real_feats.append(metrics.features(real))
        made_feats += [metrics.features(g) for g in generated]
        if on_piece:
            on_piece(i + 1, len(chosen))
    nll = held_out_nll(model, [usable[name] for name in chosen], codec)
    return {
        "model": card.path, "settings": _settings(cfg), "pieces": len(rows),
        "held_out_nll": nll,
        "summary": {"real": _summary([r["real"] for r in rows]),
                    "generated": _summary([t for r in rows for t in takes(r)])},
        "skipped": {name: _too_short(primed.get(name, []), span) for name in sorted(pieces) if name not in usable},
        "feature_overlap": {f: round(metrics.overlap([r[f] for r in real_feats], [m[f] for m in made_feats]), 4)
                            for f in metrics.FEATURES},
        "per_piece": rows,
    }


def _too_short(notes: list[Note], span: float) -> str:
    if not notes:
        return "no notes"
    return f"too short: notes for {max(n.start for n in notes):.0f} s after its first, {span * 0.9:.0f} s needed"


def _settings(cfg: EvalConfig) -> dict:
    settings = asdict(cfg)
    settings["controls"] = {k: (None if isinstance(v, float) and math.isinf(v) and k != "scale_strength" else v)
                            for k, v in settings["controls"].items()}
    if math.isinf(cfg.controls.scale_strength):
        settings["controls"]["scale_strength"] = "inf"
    return settings


def _summary(rows: list[dict]) -> dict:
    out = {key: summarise([r[key] for r in rows]) for key in
           ("key_fidelity", "notes", "density_drift", "polyphony_drift", "longest_onset_gap", "longest_silence")}
    out["degenerate"] = sum(1 for r in rows if r["degenerate"])
    if rows and "longest_shared_run" in rows[0]:
        out["longest_shared_run"] = max(r["longest_shared_run"] for r in rows)
    return out


def write_report(report: dict, path: str | Path) -> tuple[Path, Path | None]:
    """The report as JSON at `path` and as a PNG beside it (same name, .png); the PNG is None
    where matplotlib (the render extra) is not installed."""
    from ambient.files import write_text

    path = Path(path)
    write_text(path, json.dumps(report, indent=2, default=_plain) + "\n")
    picture = path.with_suffix(".png")
    try:
        draw(report, picture)
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("matplotlib"):
            raise
        return path, None
    return path, picture


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON")


def draw(report: dict, path: Path) -> None:
    """Distributions side by side, real against generated, and density over time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["per_piece"]
    panels = [("key_fidelity", "key fidelity (pitch classes vs primer)"), ("notes", "notes per continuation"),
              ("density_drift", "density drift (last / first)"), ("longest_onset_gap", "longest onset gap (s)")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    sides = {"real": [r["real"] for r in rows], "generated": [t for r in rows for t in takes(r)]}
    for ax, (key, title) in zip(axes.flat, panels):
        data = [[m[key] for m in measured if m[key] is not None and math.isfinite(m[key])]
                for measured in sides.values()]
        ax.boxplot(data, tick_labels=["real", "generated"], widths=0.5)
        for x, values in enumerate(data, 1):
            ax.scatter(np.full(len(values), x) + np.linspace(-0.12, 0.12, len(values)), values, s=12, alpha=0.6)
        ax.set_title(title)
    ax = axes.flat[4]
    for side, colour in (("real", "tab:blue"), ("generated", "tab:orange")):
        curves = np.array([m["onsets_per_10s"] for m in sides[side]], dtype=float)
        times = np.arange(curves.shape[1]) * 10 + 5
        ax.plot(times, curves.mean(0) / 10, color=colour, label=f"{side} (mean)")
        ax.fill_between(times, np.percentile(curves, 25, 0) / 10, np.percentile(curves, 75, 0) / 10, color=colour,
                        alpha=0.2)
    ax.set_title("notes per second over the continuation")
    ax.set_xlabel("seconds")
    ax.legend()
    ax = axes.flat[5]
    overlap = report["feature_overlap"]
    ax.barh(list(overlap), [v if v is not None and math.isfinite(v) else 0 for v in overlap.values()])
    ax.set_xlim(0, 1)
    ax.set_title("feature overlap, generated vs real (1 = alike)")
    nll = report["held_out_nll"]
    made = report["summary"]["generated"]["key_fidelity"]
    spread = f" ± {made['sem']}" if made.get("sem") is not None else ""
    fig.suptitle(f"{report['model']}: {report['pieces']} pieces × {report['settings'].get('takes', 1)} takes, "
                 f"held-out NLL {nll['nats_per_token']:.3f} nats/token, key fidelity {made['mean']}{spread} "
                 f"(real {report['summary']['real']['key_fidelity']['mean']})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
