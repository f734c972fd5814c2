"""``python -m stepfn.local.sagemaker.builtins <algorithm>`` (see the package docstring)."""

from __future__ import annotations

import sys

from stepfn.local.sagemaker.builtins import main

sys.exit(main(sys.argv[1:]))
