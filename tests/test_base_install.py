"""A base install (no extras): generate, train, eval, seeds and --help work; a command that
needs an extra says which, in one line. The extras' modules are hidden from a child Python,
as if `pip install ambient` had never brought them."""

import subprocess
import sys

import pytest

from ambient.extras import EXTRAS

HIDE = "import sys\nfor m in {names!r}: sys.modules[m] = None\nfrom ambient.cli import main\nmain()\n"


def base(*args, cwd=None):
    script = HIDE.format(names=sorted(EXTRAS))
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_the_extras_are_really_hidden():
    result = subprocess.run([sys.executable, "-c", HIDE.replace("from ambient.cli import main\nmain()\n",
                                                                "import soundfile").format(names=sorted(EXTRAS))],
                            capture_output=True, text=True)
    assert "ModuleNotFoundError" in result.stderr


def test_help_seeds_generate_train_and_eval_need_no_extra(tmp_path):
    assert base("--help").returncode == 0
    assert base("seeds").returncode == 0
    made = base("generate", "--primer", "2", "--seconds", "10", "-o", tmp_path / "take.mid")
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "take.mid").exists()
    folder = tmp_path / "pieces"
    assert base("compose", "-o", folder / "a.mid", "--seconds", "90").returncode == 0
    assert base("compose", "-o", folder / "b.mid", "--seconds", "90", "--seed", "1").returncode == 0
    trained = base("train", folder, "--out", tmp_path / "model", "--steps", "2", "--val-every", "1", "--batch-size",
                   "2", "--layers", "1", "--d-model", "32", "--heads", "2", "--context", "64")
    assert trained.returncode == 0, trained.stderr
    judged = base("eval", folder, "--model", tmp_path / "model", "--primer-seconds", "10", "--seconds", "20",
                  "-o", tmp_path / "eval.json")
    assert judged.returncode == 0, judged.stderr
    assert (tmp_path / "eval.json").exists() and not (tmp_path / "eval.png").exists()
    assert "no picture drawn: it needs matplotlib, from the 'render' extra" in judged.stderr


@pytest.mark.parametrize("args, extra", [
    (["render", "IN", "-o", "x.wav"], "render"),
    (["generate", "--seconds", "5", "-o", "x.mid", "--render", "stratosphere"], "render"),
    (["studio"], "studio"),
])
def test_a_command_that_needs_an_extra_names_it_in_one_line(tmp_path, args, extra):
    made = base("generate", "--seconds", "5", "-o", tmp_path / "in.mid")
    assert made.returncode == 0
    result = base(*[tmp_path / "in.mid" if a == "IN" else a for a in args], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"pip install 'ambient[{extra}]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.mid").exists()
