"""``sagemaker_containers.beta.framework``: the modules scripts import from it. ``modules``, ``transformer``,
``server``, ``functions`` and ``mapping`` are importable (scripts import them without using them) and raise on use,
naming what is missing."""

from __future__ import annotations

from sagemaker_containers import _content_types as content_types
from sagemaker_containers import _encoders as encoders
from sagemaker_containers import _env as env
from sagemaker_containers import _errors as errors
from sagemaker_containers import _worker as worker
from sagemaker_containers import entry_point
from sagemaker_containers.beta.framework import functions, mapping, modules, server, transformer

__all__ = ["content_types", "encoders", "entry_point", "env", "errors", "functions", "mapping", "modules", "server",
           "transformer", "worker"]
