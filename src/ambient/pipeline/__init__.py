"""The incremental pipeline: Pachyderm's repos, datums and lineage, on one machine.

    from ambient.pipeline import Workspace, run
"""

from ambient.pipeline.queries import evaluation_set, latest_model, lineage, list_sources, model_dir, models, status
from ambient.pipeline.runner import run
from ambient.pipeline.workspace import Workspace, is_workspace

__all__ = ["Workspace", "evaluation_set", "is_workspace", "latest_model", "lineage", "model_dir", "models", "run",
           "status", "list_sources"]
