"""Pachyderm pipeline specs for the standard stages, and the image they run in.

Each stage becomes one pipeline whose container runs `ambient stage NAME --input
/pfs/in --output /pfs/out`. Map stages take glob `/*` (a datum per file), training takes
`/` (the whole repo). In Pachyderm a pipeline's output repo carries the pipeline's
name, so the chain is audio -> ambient-decode -> ambient-transcribe -> ambient-tokenize
-> ambient-train. Keys are camelCase as Pachyderm's CreatePipelineRequest schema wants.
"""

from __future__ import annotations

import json
from pathlib import Path

from ambient.errors import AmbientError
from ambient.pipeline.stages import SOURCE_REPO, standard_stages

PREFIX = "ambient-"
RESOURCES = {"map": {"cpu": 1, "memory": "2G"}, "reduce": {"cpu": 4, "memory": "8G"}}

DOCKERFILE = """\
# The image every exported pipeline and Ray node runs: the ambient package, its stage
# entry point and Ray (deploy/kuberay uses it too).
FROM python:3.11-slim
# GPU nodes: --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 (a CUDA build)
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
WORKDIR /opt/ambient
COPY . .
RUN pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX" \\
 && pip install --no-cache-dir '.[transcribe,ray]' \\
 && pip install --no-cache-dir --no-deps basic-pitch==0.4.0
"""


def pachyderm_specs(params: dict, image: str, workers: int = 4) -> dict[str, dict]:
    """{pipeline name: CreatePipelineRequest} for the standard stages with these params."""
    specs = {}
    for stage in standard_stages(params):
        source = SOURCE_REPO if stage.input == SOURCE_REPO else PREFIX + _producer(stage.input, params)
        specs[PREFIX + stage.name] = {
            "pipeline": {"name": PREFIX + stage.name},
            "description": f"ambient {stage.name} (v{stage.version}): {stage.input} -> {stage.output}",
            "input": {"pfs": {"name": "in", "repo": source, "glob": "/*" if stage.kind == "map" else "/"}},
            "transform": {"image": image,
                          "cmd": ["ambient", "stage", stage.name, "--input", "/pfs/in", "--output", "/pfs/out",
                                  "--params", json.dumps(stage.params, sort_keys=True)]},
            "parallelismSpec": {"constant": workers if stage.kind == "map" else 1},
            "resourceRequests": RESOURCES[stage.kind],
            "datumTries": 3,
        }
    return specs


def _producer(repo: str, params: dict) -> str:
    return next(s.name for s in standard_stages(params) if s.output == repo)


def export_pachyderm(params: dict, out_dir: str | Path, image: str, schema: str | Path | None = None) -> list[Path]:
    """Write one JSON spec per stage and a Dockerfile; validate against `schema` if given."""
    specs = pachyderm_specs(params, image)
    if schema is not None:
        validate(specs, schema)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in specs.items():
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(spec, indent=2) + "\n")
        written.append(path)
    (out_dir / "Dockerfile").write_text(DOCKERFILE)
    return written + [out_dir / "Dockerfile"]


def validate(specs: dict[str, dict], schema: str | Path) -> None:
    import jsonschema

    schema = Path(schema)
    if not schema.exists():
        raise AmbientError(f"{schema}: no such schema file")
    checker = jsonschema.Draft7Validator(json.loads(schema.read_text()))
    for name, spec in specs.items():
        errors = sorted(checker.iter_errors(spec), key=lambda e: list(e.path))
        if errors:
            raise AmbientError(f"{name}: not a valid Pachyderm spec ({errors[0].message})")
