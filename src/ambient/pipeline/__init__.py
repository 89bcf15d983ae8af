"""The incremental pipeline: Pachyderm's repos, datums and lineage, on one machine.

    from ambient.pipeline import Workspace, run

Each name is loaded on first use (as in `ambient`), so the CLI can read the stages'
defaults without loading the runner, the manifest and their queries.
"""

from __future__ import annotations

from ambient.extras import exports

_EXPORTS = {
    "evaluation_set": "ambient.pipeline.queries", "latest_model": "ambient.pipeline.queries",
    "lineage": "ambient.pipeline.queries", "list_sources": "ambient.pipeline.queries",
    "model_dir": "ambient.pipeline.queries", "models": "ambient.pipeline.queries",
    "status": "ambient.pipeline.queries", "run": "ambient.pipeline.runner",
    "Workspace": "ambient.pipeline.workspace", "is_workspace": "ambient.pipeline.workspace",
}

__all__ = sorted(_EXPORTS)
__getattr__ = exports(__name__, _EXPORTS)
