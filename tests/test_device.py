"""`--device` on every command that runs a model: auto, cpu, cuda[:N], mps; a device that is
not there is one line. On a machine with a GPU the same tests also run there (parametrized
by what torch sees), so they are never silently skipped and never the only test of a path."""

import subprocess
import sys

import pytest
import torch

from ambient.device import resolve
from ambient.errors import AmbientError, ParameterError
from ambient.midi import read_midi

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def ambient(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ambient", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_auto_takes_a_gpu_only_when_torch_sees_one():
    assert resolve("auto") == ("cuda" if torch.cuda.is_available() else
                               "mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve("CPU") == "cpu"
    with pytest.raises(ParameterError, match="must be auto, cpu, cuda, cuda:N or mps, not 'tpu'"):
        resolve("tpu")
    with pytest.raises(ParameterError):
        resolve("cuda:x")


def missing_gpu() -> tuple[str, str]:
    """A GPU this machine does not have, and the line that says so."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        return "cuda", "device cuda: torch sees no GPU here (use --device cpu or auto)"
    return f"cuda:{count}", f"device cuda:{count}: this machine has {count} GPU{'s' if count > 1 else ''}"


def test_a_gpu_asked_for_that_is_not_there_is_one_line_on_every_command(tmp_path):
    device, line = missing_gpu()
    with pytest.raises(AmbientError, match="^" + line.replace("(", r"\(").replace(")", r"\)")):
        resolve(device)
    for args in (["generate", "-o", tmp_path / "x.mid"], ["eval", tmp_path], ["stream", "-o", tmp_path / "x.wav"],
                 ["train", tmp_path, "--out", tmp_path / "m"], ["studio", "--port", "1"]):
        result = ambient(*args, "--device", device)
        assert result.returncode == 1, args
        assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith(f"error: {line}"), args
    assert not (tmp_path / "x.mid").exists()
    bad = ambient("pipeline", "init", tmp_path / "ws", "--device", "tpu")
    assert bad.returncode == 1 and "--device must be auto, cpu, cuda, cuda:N or mps, not 'tpu'" in bad.stderr


@pytest.mark.parametrize("device", DEVICES)
def test_generate_on_a_device_writes_the_same_music_as_auto_picks_there(tmp_path, device):
    for name in (device, "auto"):
        made = ambient("generate", "--primer", "3", "--seconds", "8", "--seed", "4", "--device", name,
                       "-o", tmp_path / f"{name}.mid")
        assert made.returncode == 0, made.stderr
    if resolve("auto") == device:
        assert (tmp_path / f"{device}.mid").read_bytes() == (tmp_path / "auto.mid").read_bytes()
    assert len(read_midi(tmp_path / f"{device}.mid")) > 10


def test_the_pipeline_trains_on_the_device_it_is_given(tmp_path):
    from ambient.pipeline import Workspace

    ok = ambient("pipeline", "init", tmp_path / "ws", "--device", "cpu")
    assert ok.returncode == 0 and Workspace(tmp_path / "ws").params["train"]["device"] == "cpu"
