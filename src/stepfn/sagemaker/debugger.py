"""SageMaker Debugger configuration (sagemaker v2 ``sagemaker.debugger``), as far as CreateTrainingJob needs it.

``DebuggerHookConfig`` and ``Rule`` become ``DebugHookConfig`` / ``DebugRuleConfigurations`` (docs/design/compat.md §6.2).
``ProfilerConfig`` and ``TensorBoardOutputConfig`` are accepted for signature compatibility; like sagemaker 2.72.3's
workflow config they are not emitted (docs/design/compat.md §11 #12).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .image_uris import rule_evaluator_image

__all__ = [
    "CollectionConfig",
    "DebuggerHookConfig",
    "ProfilerConfig",
    "Rule",
    "TensorBoardOutputConfig",
    "rule_configs",
]

# Rule.sagemaker() marks its image like this; the estimator swaps in the region's rule evaluator image.
DEFAULT_RULE_EVALUATOR_IMAGE = "DEFAULT_RULE_EVALUATOR_IMAGE"


class CollectionConfig:
    """A tensor collection to save: ``{CollectionName, [CollectionParameters]}``."""

    def __init__(self, name: str, parameters: dict[str, str] | None = None) -> None:
        self.name = name
        self.parameters = parameters

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"CollectionName": self.name}
        if self.parameters is not None:
            request["CollectionParameters"] = self.parameters
        return request


class DebuggerHookConfig:
    """``DebugHookConfig{S3OutputPath, [LocalPath], [HookParameters], [CollectionConfigurations]}``."""

    def __init__(
        self,
        s3_output_path: Any = None,
        container_local_output_path: Any = None,
        hook_parameters: Any = None,
        collection_configs: list[CollectionConfig] | None = None,
    ) -> None:
        self.s3_output_path = s3_output_path
        self.container_local_output_path = container_local_output_path
        self.hook_parameters = hook_parameters
        self.collection_configs = collection_configs

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"S3OutputPath": self.s3_output_path}
        if self.container_local_output_path is not None:
            request["LocalPath"] = self.container_local_output_path
        if self.hook_parameters is not None:
            request["HookParameters"] = self.hook_parameters
        if self.collection_configs is not None:
            request["CollectionConfigurations"] = [c._to_request_dict() for c in self.collection_configs]
        return request


def _rule_parameters(base: dict[str, str], other_trials: list[str] | None,
                     given: dict[str, str] | None) -> dict[str, str]:
    """Rule parameters as sagemaker v2 merges them: base, then ``other_trial_<i>`` paths, then the caller's."""
    merged = dict(base)
    for index, path in enumerate(other_trials or []):
        merged[f"other_trial_{index}"] = path
    merged.update(given or {})
    return merged


class Rule:
    """A Debugger rule: ``{RuleConfigurationName, RuleEvaluatorImage, [InstanceType], [VolumeSizeInGB], …}``."""

    def __init__(
        self,
        name: str,
        image_uri: str,
        instance_type: str | None = None,
        volume_size_in_gb: int | None = None,
        container_local_output_path: str | None = None,
        s3_output_path: str | None = None,
        rule_parameters: dict[str, str] | None = None,
        collections_to_save: list[CollectionConfig] | None = None,
        actions: Any = None,
    ) -> None:
        self.name = name
        self.image_uri = image_uri
        self.instance_type = instance_type
        self.volume_size_in_gb = volume_size_in_gb
        self.container_local_output_path = container_local_output_path
        self.s3_output_path = s3_output_path
        self.rule_parameters = rule_parameters
        self.collection_configs = collections_to_save or []
        self.actions = actions

    @classmethod
    def sagemaker(
        cls,
        base_config: dict[str, Any],
        name: str | None = None,
        container_local_output_path: str | None = None,
        s3_output_path: str | None = None,
        other_trials_s3_input_paths: list[str] | None = None,
        rule_parameters: dict[str, str] | None = None,
        collections_to_save: list[CollectionConfig] | None = None,
        actions: Any = None,
    ) -> Rule:
        """A built-in rule from ``rule_configs``; its evaluator image is resolved per region at request time."""
        rule_config = base_config["DebugRuleConfiguration"]
        merged = _rule_parameters(rule_config.get("RuleParameters", {}), other_trials_s3_input_paths,
                                  rule_parameters)
        return cls(
            name=name or rule_config["RuleConfigurationName"],
            image_uri=DEFAULT_RULE_EVALUATOR_IMAGE,
            container_local_output_path=container_local_output_path,
            s3_output_path=s3_output_path,
            rule_parameters=merged,
            collections_to_save=collections_to_save,
            actions=actions,
        )

    @classmethod
    def custom(
        cls,
        name: str,
        image_uri: str,
        instance_type: str,
        volume_size_in_gb: int,
        source: str | None = None,
        rule_to_invoke: str | None = None,
        container_local_output_path: str | None = None,
        s3_output_path: str | None = None,
        other_trials_s3_input_paths: list[str] | None = None,
        rule_parameters: dict[str, str] | None = None,
        collections_to_save: list[CollectionConfig] | None = None,
        actions: Any = None,
    ) -> Rule:
        """A rule run by the caller's own evaluator image."""
        base: dict[str, str] = {}
        if source is not None:
            base["source_s3_uri"] = source
        if rule_to_invoke is not None:
            base["rule_to_invoke"] = rule_to_invoke
        merged = _rule_parameters(base, other_trials_s3_input_paths, rule_parameters)
        return cls(
            name, image_uri, instance_type, volume_size_in_gb, container_local_output_path, s3_output_path,
            merged, collections_to_save, actions,
        )

    def to_debugger_rule_config_dict(self, region: str | None = None) -> dict[str, Any]:
        """The ``DebugRuleConfigurations`` entry; ``region`` resolves a built-in rule's evaluator image."""
        image = self.image_uri
        if image == DEFAULT_RULE_EVALUATOR_IMAGE:
            if region is None:
                raise ValueError(f"Rule {self.name!r} needs a region to resolve its rule evaluator image.")
            image = rule_evaluator_image(region)
        request: dict[str, Any] = {"RuleConfigurationName": self.name, "RuleEvaluatorImage": image}
        if self.instance_type:
            request["InstanceType"] = self.instance_type
        if self.volume_size_in_gb:
            request["VolumeSizeInGB"] = self.volume_size_in_gb
        if self.container_local_output_path:
            request["LocalPath"] = self.container_local_output_path
        if self.s3_output_path:
            request["S3OutputPath"] = self.s3_output_path
        if self.rule_parameters:
            request["RuleParameters"] = self.rule_parameters
        return request


class ProfilerConfig:
    """Accepted for sagemaker v2 compatibility; not emitted by the workflow request (docs/design/compat.md §11 #12)."""

    def __init__(self, s3_output_path: str | None = None, system_monitor_interval_millis: int | None = None,
                 framework_profile_params: Any = None) -> None:
        self.s3_output_path = s3_output_path
        self.system_monitor_interval_millis = system_monitor_interval_millis
        self.framework_profile_params = framework_profile_params


class TensorBoardOutputConfig:
    """Accepted for sagemaker v2 compatibility; not emitted by the workflow request (docs/design/compat.md §11 #12)."""

    def __init__(self, s3_output_path: str, container_local_output_path: str | None = None) -> None:
        self.s3_output_path = s3_output_path
        self.container_local_output_path = container_local_output_path


_BUILT_IN_RULES = (
    "vanishing_gradient", "similar_across_runs", "weight_update_ratio", "all_zero", "exploding_tensor",
    "unchanged_tensor", "loss_not_decreasing", "check_input_images", "dead_relu", "confusion", "tree_depth",
    "class_imbalance", "feature_importance_overweight", "overfit", "overtraining", "poor_weight_initialization",
    "saturated_activation", "stalled_training_rule", "tensor_variance", "nlp_sequence_ratio",
)


def _rule_config(function_name: str) -> Any:
    rule_name = "".join(part.title() for part in function_name.split("_"))

    def config() -> dict[str, Any]:
        return {"DebugRuleConfiguration": {"RuleConfigurationName": rule_name,
                                           "RuleParameters": {"rule_to_invoke": rule_name}}}

    config.__name__ = function_name
    config.__doc__ = f"The built-in ``{rule_name}`` rule configuration."
    return config


# sagemaker v2 exposes these as functions of the module ``sagemaker.debugger.rule_configs``.
rule_configs = SimpleNamespace(**{name: _rule_config(name) for name in _BUILT_IN_RULES})
