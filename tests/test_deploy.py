"""The files docs/scaling.md points at: every command in them is one our CLI (and Ray's,
and torchrun's) accepts, and the Pachyderm specs are what `export` writes today."""

import argparse
import os
import re
import shlex
import subprocess
from pathlib import Path

import typer
import yaml

from ambient.cli import app
from ambient.pipeline import Workspace
from ambient.pipeline.export import export_pachyderm

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
# what SLURM and the operator would put in the environment
ENV = {"WORKSPACE": "/shared/ws", "HEAD_IP": "10.0.0.1", "PORT": "6379", "SLURM_CPUS_PER_TASK": "16",
       "SLURM_JOB_NUM_NODES": "4", "HEAD": "10.0.0.1", "NNODES": "2", "NODE_RANK": "0", "GPUS": "8",
       "DATA": "ws/repos/tokens", "OUT": "models/m", "node": "node2"}


def parse(command, args: list[str], name: str = "ambient"):
    """Parse like the command line would, into the leaf command's context, without running it
    (typer vendors its own click, Ray uses click itself: both have these methods)."""
    ctx = command.make_context(name, list(args), resilient_parsing=False)
    if hasattr(command, "resolve_command"):
        sub_name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])  # click 8.2+
        return parse(sub, rest, sub_name)
    return ctx


def commands(path: Path, program: str) -> list[list[str]]:
    """The arguments of each line of a script (continuations joined) that runs `program`,
    directly or through srun, variables expanded."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    found = []
    for line in text.splitlines():
        words = [w for w in shlex.split(line, comments=True) if w != "&"]
        if words[:1] == ["srun"] and program in words:
            words = words[words.index(program):]
        if words[:1] == [program]:
            found.append([re.sub(r"\$\{?(\w+)\}?", lambda m: ENV.get(m.group(1), m.group(0)), w) for w in words[1:]])
    return found


def test_the_rayjob_runs_an_ambient_command_on_the_shared_volume_every_pod_mounts():
    job = yaml.safe_load((DEPLOY / "kuberay" / "rayjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    args = shlex.split(job["spec"]["entrypoint"])
    assert args[0] == "ambient"
    ctx = parse(typer.main.get_command(app), args[1:])
    assert ctx.params["executor"] == "ray" and ctx.params["address"] == "auto"
    cluster = job["spec"]["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in cluster["workerGroupSpecs"]]
    for pod in pods:
        [container] = pod["containers"]
        assert container["image"] == "ambient:latest"
        volumes = {v["name"] for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert set(mounts.values()) <= volumes
        assert any(str(ctx.params["workspace"]).startswith(path + "/") for path in mounts), \
            "the workspace must be on a volume every pod mounts"
    assert cluster["rayVersion"] == __import__("ray").__version__


def test_the_slurm_script_is_valid_bash_and_its_ray_and_ambient_commands_parse():
    script = DEPLOY / "slurm" / "ambient-ray.sbatch"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert re.search(r"^#SBATCH --nodes=\d+$", script.read_text(), re.M)
    from ray.scripts.scripts import cli as ray_cli

    starts = commands(script, "ray")
    assert len(starts) == 2 and all(args[0] == "start" for args in starts)
    head, worker = (parse(ray_cli, args, "ray") for args in starts)
    assert head.params["head"] and head.params["block"] and not head.params["include_dashboard"]
    assert worker.params["address"] == f"{ENV['HEAD_IP']}:{ENV['PORT']}"
    ours = commands(script, "ambient")
    assert [args[:2] for args in ours] == [["pipeline", "set"], ["pipeline", "run"]]
    contexts = [parse(typer.main.get_command(app), args) for args in ours]
    assert contexts[1].params["address"] == worker.params["address"] and contexts[1].params["executor"] == "ray"
    assert set(contexts[0].params["assignments"]) == {"train.ray_workers=4", "train.gpus_per_worker=1"}


def test_the_torchrun_script_parses_for_torchrun_and_for_ambient_train():
    from torch.distributed.run import get_args_parser

    script = DEPLOY / "torchrun" / "multinode.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    [args] = commands(script, "torchrun")
    parsed = get_args_parser().parse_args(args)
    assert parsed.nnodes == "2" and parsed.rdzv_backend == "c10d" and parsed.module
    assert parsed.training_script == "ambient"
    ctx = parse(typer.main.get_command(app), parsed.training_script_args)
    assert ctx.params["device"] == "cuda" and str(ctx.params["out"]) == ENV["OUT"]


def test_the_checked_in_pachyderm_specs_are_what_export_writes(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    written = export_pachyderm(ws.params, tmp_path / "specs", "ambient:latest", None)
    assert sorted(p.name for p in written) == sorted(p.name for p in (DEPLOY / "pachyderm").iterdir())
    for path in written:
        assert path.read_text() == (DEPLOY / "pachyderm" / path.name).read_text(), \
            f"deploy/pachyderm/{path.name} is stale: rerun `ambient pipeline init /tmp/ws && " \
            "ambient pipeline export pachyderm -w /tmp/ws -o deploy/pachyderm`"


def test_every_file_scaling_md_names_exists_and_is_tested_here():
    doc = (DEPLOY.parent / "docs" / "scaling.md").read_text()
    named = set(re.findall(r"deploy/[\w./-]+\.(?:yaml|sbatch|sh|json)|deploy/pachyderm/Dockerfile", doc))
    assert named and all((DEPLOY.parent / p).is_file() for p in named)
    assert {p.relative_to(DEPLOY.parent).as_posix() for p in DEPLOY.rglob("*") if p.is_file()} <= named | {
        f"deploy/pachyderm/{p.name}" for p in (DEPLOY / "pachyderm").iterdir()}
