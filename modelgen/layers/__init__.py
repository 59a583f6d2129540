"""Layer kinds: importing this package registers every kind in ``REGISTRY``."""

from modelgen.layers import (  # noqa: F401  (imported for registration)
    activation,
    attention,
    augmentation,
    bidirectional,
    borders,
    conv1d,
    conv2d,
    conv2d_transpose,
    dense,
    depthwise_conv2d,
    dropout,
    embedding,
    global_pooling,
    merging,
    normalization,
    pooling,
    position_embedding,
    preprocessing,
    recurrent,
    reshaping,
    separable_conv2d,
    upsampling,
)
from modelgen.layers.base import REGISTRY, LayerKind, ShapeError, Variable

__all__ = ["REGISTRY", "LayerKind", "ShapeError", "Variable"]
