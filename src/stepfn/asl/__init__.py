"""ASL: what a state machine definition means (paths, intrinsics, JSONata, static validation)."""

from __future__ import annotations

from stepfn.asl.intrinsics import IntrinsicCall, IntrinsicSyntaxError, evaluate_intrinsic, is_intrinsic, parse_intrinsic
from stepfn.asl.paths import CompiledPath, PathSyntaxError, compile_path, compile_reference_path

__all__ = [
    "CompiledPath",
    "IntrinsicCall",
    "IntrinsicSyntaxError",
    "PathSyntaxError",
    "compile_path",
    "compile_reference_path",
    "evaluate_intrinsic",
    "is_intrinsic",
    "parse_intrinsic",
]
