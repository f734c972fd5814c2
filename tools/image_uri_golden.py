"""Record what sagemaker v2's own ``image_uris.retrieve`` returns, for ``tests/sagemaker/test_image_uris_v2.py``.

    python -m venv /tmp/v2 && /tmp/v2/bin/pip install "sagemaker==2.257.*"
    /tmp/v2/bin/python tools/image_uri_golden.py

For every config in stepfn's copy of the tables (``src/stepfn/sagemaker/image_uri_config.json``): every scope,
every version and version alias, every Python version, every processor (through an instance type of that kind)
and, for Hugging Face, every base framework, in a few regions of different partitions. Each case records the URI
or that v2 raised ValueError. Run with the sagemaker version the tables were built from.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "src" / "stepfn" / "sagemaker" / "image_uri_config.json"
TARGET = ROOT / "tests" / "data" / "image_uris_v2.json.gz"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "cn-north-1", "us-gov-west-1")
INSTANCE_FOR_PROCESSOR = {"cpu": "ml.m5.xlarge", "gpu": "ml.p3.2xlarge", "inf": "ml.inf1.xlarge",
                          "trn": "ml.trn1.2xlarge", "neuron": "ml.inf1.xlarge"}


def instance_types(processors: list[str] | None) -> list[str | None]:
    if not processors:
        return [None]
    return [INSTANCE_FOR_PROCESSOR.get(p, f"ml.{p}.xlarge") for p in processors]


def cases(framework: str, config: dict[str, Any], registries: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    found = []
    scoped = {scope: config for scope in config["scope"]} if "scope" in config else config
    for scope, table in scoped.items():
        if not isinstance(table, dict) or "versions" not in table:
            continue
        # What a caller leaving the version (and Python version) out gets: a lone version, 'latest', the newest.
        for instance_type in instance_types(table.get("processors"))[:1]:
            found.append({"framework": framework, "region": "us-east-1", "version": None, "py_version": None,
                          "instance_type": instance_type or "ml.m5.xlarge", "image_scope": scope,
                          "base_framework_version": None})
        names = list(table["versions"]) + list(table.get("version_aliases", {}))
        for version in names:
            resolved = table.get("version_aliases", {}).get(version, version)
            entry = table["versions"].get(resolved)
            if not isinstance(entry, dict):
                continue
            bases: list[tuple[str | None, dict[str, Any]]] = [(None, entry)]
            if framework == "huggingface":
                keys = [k for k in entry if k != "version_aliases"] + list(entry.get("version_aliases", {}))
                bases = [(k, entry[entry.get("version_aliases", {}).get(k, k)]) for k in keys]
            for base, version_config in bases:
                pys = version_config.get("py_versions") or [None]
                processors = table.get("processors") or version_config.get("processors")
                registry = registries[version_config["registries"]] if "registries" in version_config else {}
                for region in REGIONS:
                    if registry and region not in registry:
                        continue
                    for py in pys:
                        for instance_type in instance_types(processors):
                            found.append({"framework": framework, "region": region, "version": version,
                                          "py_version": py, "instance_type": instance_type, "image_scope": scope,
                                          "base_framework_version": base})
    return found


def main() -> None:
    logging.disable(logging.CRITICAL)
    import functools

    from sagemaker import image_uris

    # v2 reads and parses the framework's JSON file on every call; cached, the 6,000-odd cases take seconds,
    image_uris.config_for_framework = functools.lru_cache(maxsize=None)(image_uris.config_for_framework)
    # ...and loads botocore's whole endpoint file to build a resolver per call.
    resolver = image_uris.utils._botocore_resolver()
    image_uris.utils._botocore_resolver = lambda: resolver
    tables = json.loads(TABLES.read_text())
    records = []
    for framework, config in tables["configs"].items():
        for case in cases(framework, config, tables["registries"]):
            try:
                case["uri"] = image_uris.retrieve(**case)
            except ValueError:
                case["uri"] = None
            records.append(case)
    import sagemaker

    TARGET.parent.mkdir(parents=True, exist_ok=True)
    fields = ["framework", "region", "version", "py_version", "instance_type", "image_scope",
              "base_framework_version", "uri"]
    document = {"sagemaker": sagemaker.__version__, "fields": fields,
                "cases": [[record[field] for field in fields] for record in records]}
    # mtime=0: the same cases give the same bytes, so a rerun shows no spurious change.
    TARGET.write_bytes(gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0))
    print(f"{TARGET}: {len(records)} cases, {sum(r['uri'] is None for r in records)} raise", file=sys.stderr)


if __name__ == "__main__":
    main()
