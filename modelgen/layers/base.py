"""The layer-kind registry and the small vocabulary every kind module shares.

A layer kind is one module in this package: a ``LayerParams`` model (what the spec may say),
a ``LayerKind`` subclass decorated with ``@register`` (shape rule and variables), and a YAML
example. Its two emitters live in ``templates/keras/layers/<kind>.py.jinja`` and
``templates/lowlevel_tf/layers/<kind>.py.jinja``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Activation",
    "Initializer",
    "LayerKind",
    "LayerParams",
    "MAX_SIZE",
    "REGISTRY",
    "Shape",
    "ShapeError",
    "Size",
    "Variable",
    "WeightedParams",
    "conv_output_length",
    "pair",
    "register",
    "require_rank",
]

Shape = tuple[int, ...]

#: Upper bound on any single size (units, filters, vocabulary...) the spec may ask for.
MAX_SIZE = 1_000_000
Size = Annotated[int, Field(gt=0, le=MAX_SIZE)]

Activation = Literal["linear", "relu", "gelu", "sigmoid", "tanh", "softmax", "silu", "leaky_relu"]
Initializer = Literal["glorot_uniform", "he_normal", "he_uniform", "zeros", "ones"]


class LayerParams(BaseModel):
    """Base of every layer's parameters: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class WeightedParams(LayerParams):
    """Parameters shared by layers with a kernel and a bias (dense, conv1d, conv2d)."""

    activation: Activation = Field(
        "linear",
        description="applied elementwise to the output, after the bias (linear: none; softmax "
        "over the last axis)",
    )
    use_bias: bool = Field(True, description="add a learned bias, one per output unit or filter")
    kernel_initializer: Initializer = Field(
        "glorot_uniform", description="how the kernel's starting values are drawn (seeded)"
    )
    bias_initializer: Initializer = Field(
        "zeros", description="how the bias's starting values are drawn (with use_bias)"
    )
    l2: Annotated[float, Field(ge=0)] | None = Field(
        None,
        description="L2 kernel penalty: adds `l2 * sum(kernel ** 2)` to the training loss "
        "(default: none)",
    )


@dataclass(frozen=True)
class Variable:
    """A weight a layer creates, named as Keras names it (``<layer>/<name>``)."""

    name: str
    shape: Shape
    initializer: str
    trainable: bool = True
    l2: float | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def fans(self) -> tuple[int, int]:
        """(fan_in, fan_out) exactly as Keras' ``compute_fans``."""
        shape = self.shape
        if len(shape) == 0:
            return 1, 1
        if len(shape) == 1:
            return shape[0], shape[0]
        if len(shape) == 2:
            return shape[0], shape[1]
        receptive = math.prod(shape[:-2])
        return shape[-2] * receptive, shape[-1] * receptive


class ShapeError(Exception):
    """A layer cannot accept the shape(s) it is given."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class LayerKind:
    """Shape rule and variables of one layer kind. Subclasses are registered by ``@register``."""

    kind: ClassVar[str]
    params: ClassVar[type[LayerParams]]
    #: The layer's YAML mapping in a spec's ``layers:`` list, used in docs and tests.
    example: ClassVar[str]
    #: Shape of one example (no batch) that ``example`` accepts; tests build models from it.
    example_input: ClassVar[Shape]
    summary: ClassVar[str]
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    #: Input dtype the layer needs ("float32" or "int32") and the dtype it produces.
    input_dtype: ClassVar[str] = "float32"
    #: True when the layer draws random numbers at training time (it gets a seed).
    uses_seed: ClassVar[bool] = False

    @staticmethod
    def output_shape(p: LayerParams, inputs: list[Shape]) -> Shape:
        raise NotImplementedError

    @staticmethod
    def variables(p: LayerParams, inputs: list[Shape]) -> list[Variable]:
        return []

    @staticmethod
    def adapts(p: LayerParams) -> bool:
        """True when the layer learns values from the training features before training
        (Keras' ``adapt``); it must then read a model input directly."""
        return False

    @classmethod
    def final_activation(cls, p: LayerParams) -> str:
        """The activation applied last by this layer ("linear" when none)."""
        return getattr(p, "activation", "linear")


REGISTRY: dict[str, type[LayerKind]] = {}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    """Class decorator adding a layer kind to the registry under ``cls.kind``."""
    if cls.kind in REGISTRY:
        raise ValueError(f"layer kind {cls.kind!r} registered twice")
    REGISTRY[cls.kind] = cls
    return cls


def require_rank(shape: Shape, rank: int, what: str) -> None:
    """Raise a ShapeError unless ``shape`` (without batch) has ``rank`` dimensions."""
    if len(shape) != rank:
        raise ShapeError(
            f"expects {what} of rank {rank} (without the batch), got shape {list(shape)}",
            "add a `flatten` or `reshape` layer before it"
            if len(shape) > rank
            else "add a `reshape` layer before it (or give the input that shape)",
        )


def pair(value: int | list[int], name: str) -> tuple[int, int]:
    """Expand an int or a 2-list into a pair."""
    if isinstance(value, int):
        return value, value
    return value[0], value[1]


def conv_output_length(
    length: int, window: int, stride: int, padding: str, dilation: int = 1
) -> int:
    """Output length of a convolution or pooling window along one axis (Keras' rule)."""
    effective = (window - 1) * dilation + 1
    if padding == "same":
        return (length + stride - 1) // stride
    return (length - effective) // stride + 1 if length >= effective else 0
