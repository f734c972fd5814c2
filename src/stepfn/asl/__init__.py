"""ASL: what a state machine definition means (paths, intrinsics, JSONata, static validation)."""

from __future__ import annotations

from stepfn.asl.intrinsics import IntrinsicCall, IntrinsicSyntaxError, evaluate_intrinsic, is_intrinsic, parse_intrinsic
from stepfn.asl.paths import CompiledPath, PathSyntaxError, compile_path, compile_reference_path
from stepfn.asl.validate import check_definition, validate_definition

__all__ = [
    "CompiledPath",
    "IntrinsicCall",
    "IntrinsicSyntaxError",
    "PathSyntaxError",
    "check_definition",
    "compile_path",
    "compile_reference_path",
    "evaluate_intrinsic",
    "is_intrinsic",
    "parse_intrinsic",
    "validate_definition",
]
