"""Rebuild ``src/stepfn/sagemaker/image_uri_config.json`` from an installed sagemaker v2.

    python -m venv /tmp/v2 && /tmp/v2/bin/pip install "sagemaker==2.257.*"
    /tmp/v2/bin/python tools/image_uri_tables.py

sagemaker v2 keeps one JSON file per framework or algorithm under ``src/sagemaker/image_uri_config/``; most of
their bulk is the same region -> account map repeated for every version. This writes every image config (the
instance GPU table is no image config) into one file with each distinct registry map stored once and referred
to by name, which keeps the package data small and the facts unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOT_IMAGE_CONFIGS = {"instance_gpu_info"}
TARGET = Path(__file__).resolve().parents[1] / "src" / "stepfn" / "sagemaker" / "image_uri_config.json"


def _pool_registries(node: Any, pool: dict[str, str], registries: dict[str, dict[str, str]]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "registries" and isinstance(value, dict):
                text = json.dumps(value, sort_keys=True)
                if text not in pool:
                    pool[text] = f"r{len(pool)}"
                    registries[pool[text]] = dict(sorted(value.items()))
                out[key] = pool[text]
            else:
                out[key] = _pool_registries(value, pool, registries)
        return out
    if isinstance(node, list):
        return [_pool_registries(item, pool, registries) for item in node]
    return node


def main() -> None:
    import sagemaker

    config_dir = Path(sagemaker.__file__).parent / "image_uri_config"
    pool: dict[str, str] = {}
    registries: dict[str, dict[str, str]] = {}
    configs = {}
    for path in sorted(config_dir.glob("*.json")):
        if path.stem in NOT_IMAGE_CONFIGS:
            continue
        configs[path.stem] = _pool_registries(json.loads(path.read_text()), pool, registries)
    document = {
        "_source": f"sagemaker {sagemaker.__version__} sagemaker/image_uri_config/*.json, registries pooled",
        "registries": registries,
        "configs": configs,
    }
    TARGET.write_text(json.dumps(document, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    print(f"{TARGET}: {len(configs)} configs, {len(registries)} registry maps, {TARGET.stat().st_size} bytes")


if __name__ == "__main__":
    main()
