#!/bin/bash
# Training without Ray: torchrun on several nodes, one process per GPU, nccl.
# Run the same command on every node (NODE_RANK 0 .. NNODES-1; HEAD is node 0's address).
#
# Storage: DATA (MIDI or token files) readable on every node; OUT on node 0 (only rank 0
# writes: the best model and checkpoint/ for --resume). Read the model back with
# `ambient generate --model $OUT`.
#
#   NNODES=2 NODE_RANK=0 HEAD=10.0.0.1 deploy/torchrun/multinode.sh   # on node 0
#   NNODES=2 NODE_RANK=1 HEAD=10.0.0.1 deploy/torchrun/multinode.sh   # on node 1
set -euo pipefail

DATA=${DATA:-ambient-workspace/repos/tokens}
OUT=${OUT:-models/multinode}
GPUS=${GPUS:-$(nvidia-smi --list-gpus | wc -l)}

torchrun --nnodes="$NNODES" --node_rank="$NODE_RANK" --nproc_per_node="$GPUS" --rdzv_backend=c10d --rdzv_endpoint="$HEAD:29500" -m ambient train "$DATA" --out "$OUT" --device cuda --batch-size 64 --steps 20000
