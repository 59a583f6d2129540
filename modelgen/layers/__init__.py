"""Layer kinds: importing this package registers every kind in ``REGISTRY``."""

from modelgen.layers import (  # noqa: F401  (imported for registration)
    activation,
    attention,
    conv1d,
    conv2d,
    dense,
    dropout,
    embedding,
    merging,
    normalization,
    pooling,
    position_embedding,
    reshaping,
)
from modelgen.layers.base import REGISTRY, LayerKind, ShapeError, Variable

__all__ = ["REGISTRY", "LayerKind", "ShapeError", "Variable"]
