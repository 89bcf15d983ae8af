"""The shape of the package: what importing costs, the public API, one home per default, no circles."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import ambient
from ambient.cli import app
from ambient.cli.output import flag_for
from ambient.config import CONTINUATION, PIPELINE_RUN, RENDER, STUDIO, ModelConfig, Sampling, TrainConfig, declared
from ambient.pipeline.stages import DEFAULT_PARAMS
from ambient.transcribe.profiles import AutoCleanup

SRC = Path(ambient.__file__).parent
ROOT = SRC.parents[1]


def python(code: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_the_cli_and_light_commands_import_no_torch():
    code = ("import sys\n"
            "import ambient, ambient.cli\n"
            "assert 'torch' not in sys.modules, 'import'\n"
            "sys.argv = ['ambient', 'seeds']\n"
            "try:\n    ambient.cli.main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'seeds'\n"
            "print('clean')\n")
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "clean"
    assert "1.mid" in result.stdout


def test_every_exported_name_is_what_the_docs_say_and_nothing_shadows_it():
    import importlib
    import types

    for module in sorted(p for p in SRC.rglob("*.py") if p.name != "__main__.py"):
        name = ".".join(("ambient", *module.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        importlib.import_module(name)  # every submodule loaded: any shadowing would show now
    for name in ambient.__all__:
        value = getattr(ambient, name)
        assert not isinstance(value, types.ModuleType), name
        assert value.__name__ == name
    assert callable(ambient.continue_piece) and ambient.continue_piece.__module__ == "ambient.sampling"
    assert isinstance(importlib.import_module("ambient.render"), types.ModuleType)
    from ambient.render import render
    assert callable(render) and render.__module__ == "ambient.render.engine"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("ambient.generate")
    for package in ("ambient", "ambient.pipeline", "ambient.render", "ambient.transcribe"):
        exported = set(importlib.import_module(package).__all__)
        folder = SRC.joinpath(*package.split(".")[1:])
        submodules = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
        assert exported & submodules == set(), package
        for name in exported:
            assert not isinstance(getattr(importlib.import_module(package), name), types.ModuleType), (package, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        ambient.nothing_here


def test_the_readme_python_example_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", readme, re.S)
    example = example.replace('"samples/midi/1.mid"', repr(str(ROOT / "samples/midi/1.mid")))
    example = example.replace("seconds=60", "seconds=5")  # the same calls, a shorter piece
    result = python("import torch; torch.set_num_threads(1)\n" + example, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mid").stat().st_size > 100 and (tmp_path / "out.wav").stat().st_size > 10_000


def _module_imports(path: Path) -> set[str]:
    """Every `ambient...` module a file imports, at top level or inside functions."""
    tree = ast.parse(path.read_text())
    package = ".".join(("ambient", *path.relative_to(SRC).parent.parts))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ambient")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.startswith("ambient"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_no_import_circles_anywhere_in_the_package():
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(("ambient", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        modules[name] = path
    graph = {name: {m for m in _module_imports(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert len(graph) > 40
    assert cycles == []


# docs/architecture.md's floors, lowest first: a module imports only from its own floor or below
FLOORS = [
    ("errors", "notes", "files", "loudness", "extras"),
    ("midi", "codec", "audio", "compose", "plot", "device"),
    ("config", "controls", "seeds", "ingest", "transcribe", "render"),
    ("model", "attention", "decoder", "checkpoint", "sampling", "train", "evaluate", "stream", "live"),
    ("pipeline", "cluster"),
    ("cli", "studio", "__main__", ""),
]


def _floor(module: str) -> int:
    top = module.removeprefix("ambient").lstrip(".").split(".")[0]
    [floor] = [i for i, names in enumerate(FLOORS) if top in names]
    return floor


def test_import_arrows_point_down_the_floors():
    upward = []
    for path in SRC.rglob("*.py"):
        name = ".".join(("ambient", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        for imported in _module_imports(path):
            if _floor(imported) > _floor(name):
                upward.append(f"{name} -> {imported}")
            if name.startswith("ambient.studio") and imported.startswith("ambient.cli"):
                upward.append(f"{name} -> {imported} (the studio never imports the CLI)")
    assert upward == []


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def _options(command):
    """(command path, parameter name, default) of every option in the click tree."""
    stack = [("", command)]
    while stack:
        path, node = stack.pop()
        for param in getattr(node, "params", []):
            if param.param_type_name == "option":
                yield path.strip(), param.name, param.default
        stack.extend((f"{path} {name}", sub) for name, sub in getattr(node, "commands", {}).items())


HOMES = {
    "generate": [Sampling(), CONTINUATION, RENDER],
    "render": [RENDER],
    "train": [ModelConfig, TrainConfig()],
    "transcribe": [AutoCleanup()],
    "pipeline init": [DEFAULT_PARAMS["train"]],
    "pipeline run": [PIPELINE_RUN],
    "pipeline watch": [{"interval": PIPELINE_RUN.watch_interval}],
    "studio": [STUDIO, CONTINUATION],
}


def _home_default(homes, name):
    for home in homes:
        if isinstance(home, dict):
            if name in home:
                return True, home[name]
        elif isinstance(home, type):
            if hasattr(declared(home), name):
                return True, getattr(declared(home), name)
        elif hasattr(home, name):
            return True, getattr(home, name)
    return False, None


def test_every_cli_default_is_its_config_field():
    checked = 0
    for command, name, default in _options(typer.main.get_command(app)):
        found, expected = _home_default(HOMES.get(command, []), name)
        if found:
            assert default == expected, f"ambient {command} --{name}: {default!r} but the config says {expected!r}"
            checked += 1
    assert checked >= 40


def test_the_studio_forms_defaults_are_config_fields():
    """What a press of Make asks for, unchanged, is what the configs (and `ambient generate`) say."""
    from ambient.studio.schema import Make
    from ambient.studio.work import MakeRequest

    homes = [STUDIO, Sampling(), CONTINUATION, RENDER, {"primer": "seed:1", "model": "bundled"}]
    checked = 0
    for form in (MakeRequest(), Make()):
        for name, value in vars(form).items():
            if name in ("name", "extra", "pitch_range", "density", "max_polyphony"):
                assert value in (None, {}), name             # unset: the model alone
                continue
            found, expected = _home_default(homes, name)
            assert found and value == expected, f"studio {name}: {value!r} but the config says {expected!r}"
            checked += 1
    assert checked == 2 * 10


def test_each_parameter_name_maps_to_one_flag():
    flags: dict[str, set] = {}
    stack = [typer.main.get_command(app)]
    while stack:
        node = stack.pop()
        for param in getattr(node, "params", []):
            if param.param_type_name == "option":
                flags.setdefault(param.name, set()).add(max(param.opts, key=len))
        stack.extend(getattr(node, "commands", {}).values())
    assert {name: f for name, f in flags.items() if len(f) > 1} == {}
    command = typer.main.get_command(app)
    assert flag_for(command, "top_p") == "--top-p"
    assert flag_for(command, "stretch_factor") == "--stretch"
    assert flag_for(command, "n_layer") == "--layers"
    assert flag_for(command, "nothing_like_it") == "nothing_like_it"


def test_a_usage_error_is_clicks_message_not_a_traceback():
    result = subprocess.run([sys.executable, "-m", "ambient", "generate", "--no-such-flag"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "No such option: --no-such-flag" in result.stderr


def test_a_layer_error_shows_the_flag_the_user_typed(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ambient", "render", str(ROOT / "samples/midi/1.mid"), "-o",
                             str(tmp_path / "x.wav"), "--stretch", "0.5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --stretch must be 1 or more, got 0.5"
