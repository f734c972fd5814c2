"""The toolkit packages that SageMaker's framework images ship and user scripts import, reimplemented small.

The scikit-learn and XGBoost images install ``sagemaker_containers`` (their training and serving toolkit), and the
XGBoost image its own ``sagemaker_xgboost_container``; scripts written for those images import them
(``from sagemaker_containers.beta.framework import encoders, worker``, ``from sagemaker_xgboost_container.data_utils
import get_dmatrix``). The released packages do not install cleanly (C extensions, a dozen heavy dependencies), so
the parts scripts use are rewritten here over stepfn's container contract (the ``SM_*`` variables, the job's paths,
the codecs of the images' servers). Each folder below is a ``sys.path`` entry, put on a job's or a model server's
path only for the images that ship its packages (:func:`paths_for`), after everything else: a real installed
package wins. They run in the images' Pythons (3.7 on), so they import nothing from stepfn.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
CONTAINERS = ROOT / "containers"
"""Holds ``sagemaker_containers``: the scikit-learn and XGBoost images install it."""
XGBOOST = ROOT / "xgboost_image"
"""Holds ``sagemaker_xgboost_container``: the XGBoost image's own toolkit."""
_SHIPPED = {"sklearn": (CONTAINERS,), "xgboost": (CONTAINERS, XGBOOST)}


def paths_for(framework: str | None) -> list[str]:
    """The path entries for a job or model of ``framework`` (``sklearn``, ``xgboost``...); none for the others."""
    return [str(path) for path in _SHIPPED.get(framework or "", ())]


__all__ = ["CONTAINERS", "ROOT", "XGBOOST", "paths_for"]
