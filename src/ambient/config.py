"""Every default in one place: the settings the layers take, as dataclasses.

The model's shape, training, sampling and rendering each have one config here, and
every front door (CLI options, pipeline parameters, the Python API) reads its defaults
from these. The module imports no torch, so `ambient --help` can show them at once.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from types import SimpleNamespace

from ambient.errors import ParameterError


def _codec_vocab_size() -> int:
    from ambient.codec import vocab_size  # on first use: the codec brings numpy, which `--help` need not load

    return vocab_size()


@dataclass
class ModelConfig:
    vocab_size: int = field(default_factory=_codec_vocab_size)  # the codec's, never a literal
    context: int = 1024              # tokens the model attends over: 20 s of a dense transcription
    n_layer: int = 4
    n_head: int = 8
    d_model: int = 256
    dropout: float = 0.1             # on residual branches only (see the attention note in model.py)
    max_relative_distance: int = 256  # farther keys share one embedding; 0 means context // 2
    positions: str = "relative"      # "relative" (the paper) or "absolute" (baseline)
    sounding_input: bool = False     # each position also reads which pitches sound (model.py); off until a
    #                                  model trained with it keeps its form over ten minutes (docs/bundled-model.md)

    def __post_init__(self):
        if self.positions not in ("relative", "absolute"):
            raise ParameterError("positions", f"must be 'relative' or 'absolute', not {self.positions!r}")
        for name in ("context", "n_layer", "n_head", "d_model"):
            if getattr(self, name) < 1:
                raise ParameterError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.n_head:
            raise ParameterError("d_model", f"must be a multiple of n_head ({self.n_head}), got {self.d_model}")
        if not 0 <= self.dropout < 1:
            raise ParameterError("dropout", f"must be in [0, 1), got {self.dropout}")
        if self.max_relative_distance <= 0:
            self.max_relative_distance = max(1, self.context // 2)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 8            # windows per step, over all processes
    learning_rate: float | None = None      # peak; None: the one below that fits the start
    scratch_learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 3e-4   # gentler: a small collection must not wash out what was learnt
    warmup_steps: int = 100
    weight_decay: float = 0.01
    val_fraction: float = 0.1
    val_every: int = 100
    max_val_windows: int = 64
    seed: int = 0
    transpose: int = 3             # augmentation: uniform shift in [-3, 3] semitones (paper)
    stretch: float = 0.05          # augmentation: time-stretch factor in [0.95, 1.05] (paper)
    minutes: float = 0.0           # wall-clock budget; 0 means the step count decides
    patience: int = 0              # stop after this many validations without a new best; 0: never
    openings: float = 0.25         # share of windows that begin at a piece's first note, as a primer does

    def __post_init__(self):
        for name in ("steps", "batch_size", "val_every"):
            if getattr(self, name) < 1:
                raise ParameterError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.minutes < 0:
            raise ParameterError("minutes", f"must be 0 (no limit) or more, got {self.minutes}")
        if self.patience < 0:
            raise ParameterError("patience", f"must be 0 (never stop early) or more, got {self.patience}")
        if not 0 <= self.openings <= 1:
            raise ParameterError("openings", f"must be a share from 0 to 1, got {self.openings}")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int = 0        # 0: no limit
    top_p: float = 0.95   # 1.0: no limit
    min_p: float = 0.0    # 0.0: no limit

    def check(self) -> None:
        if not self.temperature > 0:
            raise ParameterError("temperature", f"must be above 0, got {self.temperature}")
        if self.top_k < 0:
            raise ParameterError("top_k", f"must be 0 (off) or more, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ParameterError("top_p", f"must be in (0, 1], got {self.top_p}")
        if not 0 <= self.min_p < 1:
            raise ParameterError("min_p", f"must be in [0, 1), got {self.min_p}")


@dataclass(frozen=True)
class GenerationConfig:
    """How much to generate and from what, beside the sampling itself."""
    default_seconds: float = 60.0  # when neither a length nor seconds is given
    variations: int = 1
    seed: int = 0
    program: int = 89              # General MIDI program of the written MIDI (89: warm pad)
    threads: int = 1               # one thread is fastest for one piece on a shared machine
    device: str = "auto"           # a GPU when torch sees one (ambient.device)
    scale: str | None = "auto"     # `ambient generate` keeps the primer's scale unless told `--scale none`:
    #                                on held-out transcriptions key fidelity 0.41 -> 0.88 (docs/bundled-model.md)


@dataclass(frozen=True)
class RenderConfig:
    instrument: str = "stratosphere"
    seed: int = 0
    tempo: float = 1.0             # 0.5 plays at half speed
    stretch_factor: float = 1.0    # Paulstretch this many times longer
    program: int = 0               # SoundFont program, General MIDI numbering from 0
    rate: int = 44100
    target_lufs: float = -16.0     # streaming services' common reference for quiet genres
    peak_dbfs: float = -1.0
    audio_format: str = "wav"


@dataclass(frozen=True)
class RunConfig:
    """How `ambient pipeline run` executes datums."""
    executor: str = "process"      # serial, process or ray
    workers: int | None = None     # datums at once; None: pool_workers, or on Ray the cluster's CPUs
    pool_workers: int = 2          # processes of the process executor when workers is None
    retries: int = 3               # attempts per datum before it fails
    timeout: float | None = None   # seconds a datum may take
    watch_interval: float = 5.0    # seconds between looks at a watched folder


@dataclass(frozen=True)
class StudioConfig:
    """The studio: where it listens, how much it takes in, and the form's starting values."""
    host: str = "127.0.0.1"        # loopback: only this computer reaches it (`--host` widens it)
    port: int = 8765
    max_upload_mb: int = 64        # a long WAV fits, a video or a disk image does not
    listeners: int = 2             # endless streams at once; each takes about a fifteenth of a core
    waiting: int = 8               # jobs queued behind the running ones; past this a request is refused
    primer_seconds: float = 20.0   # the primer's last N seconds lead the model (0: all of it)
    seconds: float = 30.0          # of new music a press of Make asks for


def declared(config: type) -> SimpleNamespace:
    """A config's declared plain defaults by name, without building one (building a ModelConfig
    asks the codec for its vocabulary, which loads numpy: `ambient --help` need not)."""
    return SimpleNamespace(**{f.name: f.default for f in fields(config) if f.default is not MISSING})



CONTINUATION = GenerationConfig()
PIPELINE_RUN = RunConfig()
RENDER = RenderConfig()
STUDIO = StudioConfig()
