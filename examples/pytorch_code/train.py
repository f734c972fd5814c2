"""A PyTorch training script (CPU) that checkpoints every epoch and resumes from the last checkpoint.

SageMaker syncs the checkpoint directory with ``CheckpointConfig.S3Uri``: it restores the files before the
script starts and uploads new ones while it runs. The directory is ``CheckpointConfig.LocalPath`` (default
``/opt/ml/checkpoints``), written to ``checkpointconfig.json`` in the input config directory; reading it from
there (rather than hard-coding the path) makes the script run unchanged on SageMaker and on stepfn's local
SageMaker, which relocates ``/opt/ml``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn


def checkpoint_dir() -> Path:
    config = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "checkpointconfig.json"
    if config.exists():
        return Path(json.loads(config.read_text()).get("LocalPath") or "/opt/ml/checkpoints")
    return Path("/opt/ml/checkpoints")


def load(channel: str) -> tuple[torch.Tensor, torch.Tensor]:
    rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(Path(channel).glob("*.csv"))])
    return torch.tensor(rows[:, 1:], dtype=torch.float32), torch.tensor(rows[:, :1], dtype=torch.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    torch.manual_seed(0)
    features, targets = load(args.train)
    model = nn.Linear(features.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate)
    checkpoints = checkpoint_dir()
    checkpoints.mkdir(parents=True, exist_ok=True)
    latest = checkpoints / "checkpoint.pt"
    first_epoch = 1
    if latest.exists():
        state = torch.load(latest)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_epoch = state["epoch"] + 1
        print(f"resumed from epoch {state['epoch']}", flush=True)

    for epoch in range(first_epoch, args.epochs + 1):
        for start in range(0, len(features), 32):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(features[start:start + 32]), targets[start:start + 32])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            epoch_loss = nn.functional.mse_loss(model(features), targets).item()
        torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, latest)
        print(f"epoch={epoch} train:loss={epoch_loss:.6f}", flush=True)

    torch.save(model.state_dict(), os.path.join(args.model_dir, "model.pth"))
    weights = " ".join(f"{w:.3f}" for w in model.weight.detach().numpy().ravel())
    print(f"learned weights: {weights}, bias: {model.bias.item():.3f}")


if __name__ == "__main__":
    main()
