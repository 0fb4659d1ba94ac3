"""Pydantic run configuration: one section per file, loaded from YAML/JSON with CLI overrides."""

from .base import ComponentSpec, Section
from .data import DataConfig
from .loading import apply_overrides, config_from_dict, dump_config, load_config, read_config_file
from .model import LoraConfig, ModelConfig
from .objective import DivergenceConfig, KernelConfig, LossConfig
from .output import OutputConfig
from .privacy import PrivacyConfig
from .run import AUTO, RunConfig
from .selection import SelectionConfig
from .training import TrainingConfig
from .validate import validate_components

__all__ = ["AUTO", "ComponentSpec", "Section", "DataConfig", "LoraConfig", "ModelConfig", "DivergenceConfig",
           "KernelConfig", "LossConfig", "OutputConfig", "PrivacyConfig", "RunConfig", "SelectionConfig",
           "TrainingConfig", "apply_overrides", "config_from_dict", "dump_config", "load_config",
           "read_config_file", "validate_components"]
