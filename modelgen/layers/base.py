"""The layer-kind registry and the small vocabulary every kind module shares.

A layer kind is one module in this package: a ``LayerParams`` model (what the spec may say),
a ``LayerKind`` subclass decorated with ``@register`` (shape rule and variables), and a YAML
example. Its two emitters live in ``templates/keras/layers/<kind>.py.jinja`` and
``templates/lowlevel_tf/layers/<kind>.py.jinja``.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model, model_validator

__all__ = [
    "Activation",
    "INITIALIZER_ARGS",
    "Initializer",
    "InitializerName",
    "RANDOM_INITIALIZERS",
    "Regularizer",
    "initializer_parts",
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

#: Activation names, as Keras spells them (``swish`` and ``hard_swish`` are Keras' own aliases of
#: ``silu`` and ``hard_silu``; both targets compute an alias exactly as the name it stands for).
Activation = Literal[
    "linear",
    "relu",
    "relu6",
    "gelu",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "softmax",
    "silu",
    "swish",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "mish",
]


class LayerParams(BaseModel):
    """Base of every layer's parameters: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---------------------------------------------------------------- initializers
NonNegative = Annotated[float, Field(ge=0, le=3.4e38, allow_inf_nan=False)]
Finite = Annotated[float, Field(ge=-3.4e38, le=3.4e38, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=3.4e38, allow_inf_nan=False)]

#: Initializers named by a string, as Keras names them. The parameterised ones
#: (variance_scaling, orthogonal, random_normal, truncated_normal, random_uniform) take Keras'
#: defaults when named alone; "uniform" is the embedding's RandomUniform(-0.05, 0.05).
InitializerName = Literal[
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "variance_scaling",
    "orthogonal",
    "random_normal",
    "truncated_normal",
    "random_uniform",
    "zeros",
    "ones",
]


class VarianceScalingArgs(LayerParams):
    """keras.initializers.VarianceScaling: a spread of sqrt(scale / n), n from the fans."""

    scale: Positive = Field(1.0, description="the variance factor (2.0 for He)")
    mode: Literal["fan_in", "fan_out", "fan_avg"] = Field(
        "fan_in", description="n: the input fan, the output fan, or their mean"
    )
    distribution: Literal["truncated_normal", "untruncated_normal", "uniform"] = Field(
        "truncated_normal",
        description="truncated normal (stddev corrected for the cut at 2 stddevs), normal, or "
        "uniform in [-sqrt(3 scale / n), sqrt(3 scale / n)]",
    )


class OrthogonalArgs(LayerParams):
    """keras.initializers.Orthogonal: Q of a QR decomposition of a normal matrix, times gain."""

    gain: Finite = Field(1.0, description="the factor the orthogonal matrix is multiplied by")


class NormalArgs(LayerParams):
    """keras.initializers.RandomNormal / TruncatedNormal (cut at two standard deviations)."""

    mean: Finite = Field(0.0, description="the mean of the values")
    stddev: Positive = Field(0.05, description="the standard deviation (before the cut)")


class UniformArgs(LayerParams):
    """keras.initializers.RandomUniform: values in [minval, maxval)."""

    minval: Finite = Field(-0.05, description="the lower bound (inclusive)")
    maxval: Finite = Field(0.05, description="the upper bound (exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> UniformArgs:
        if self.minval >= self.maxval:
            raise ValueError(f"minval ({self.minval}) must be below maxval ({self.maxval})")
        return self


#: The mapping form of each parameterised initializer: its name and its arguments' model.
INITIALIZER_ARGS: dict[str, type[LayerParams]] = {
    "variance_scaling": VarianceScalingArgs,
    "orthogonal": OrthogonalArgs,
    "random_normal": NormalArgs,
    "truncated_normal": NormalArgs,
    "random_uniform": UniformArgs,
}
#: Initializers that draw random numbers (each gets its own seed).
RANDOM_INITIALIZERS = frozenset(INITIALIZER_ARGS) | {
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "uniform",
}


def _initializer_model(name: str) -> type[LayerParams]:
    description = f"{name} with these arguments (the rest keep Keras' defaults)"
    return create_model(
        f"{name.title().replace('_', '')}Initializer",
        __base__=LayerParams,
        **{name: (INITIALIZER_ARGS[name], Field(description=description))},
    )


INITIALIZER_MODELS = {name: _initializer_model(name) for name in INITIALIZER_ARGS}


def _initializer_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "name"
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INITIALIZER_MODELS:
        return next(iter(value))
    if isinstance(value, BaseModel):  # an already validated value
        fields = type(value).model_fields
        return next(iter(fields)) if len(fields) == 1 else None
    return None


Initializer = Annotated[
    Union[  # noqa: UP007
        (
            Annotated[InitializerName, Tag("name")],
            *(Annotated[model, Tag(name)] for name, model in INITIALIZER_MODELS.items()),
        )
    ],
    Discriminator(
        _initializer_tag,
        custom_error_type="initializer",
        custom_error_message="an initializer is a name ("
        + ", ".join(typing.get_args(InitializerName))
        + ") or a mapping of one of "
        + ", ".join(INITIALIZER_ARGS)
        + " to its arguments, such as {variance_scaling: {scale: 2.0, mode: fan_out}}",
    ),
]


def initializer_parts(value: Any) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """(name, arguments) of an initializer given by name or mapping; a parameterised one
    gets every argument, Keras' defaults filled in, in Keras' order."""
    if isinstance(value, str):
        args = INITIALIZER_ARGS.get(value)
        return value, tuple(args().model_dump().items()) if args else ()
    (name,) = type(value).model_fields
    return name, tuple(getattr(value, name).model_dump().items())


# ---------------------------------------------------------------- regularizers
class Regularizer(LayerParams):
    """Keras' L1 / L2 / L1L2 penalty: l1 * sum(|w|) + l2 * sum(w ** 2)."""

    l1: NonNegative | None = Field(None, description="the L1 factor: adds l1 * sum(abs(w))")
    l2: NonNegative | None = Field(None, description="the L2 factor: adds l2 * sum(w ** 2)")

    @model_validator(mode="after")
    def _some_factor(self) -> Regularizer:
        if self.l1 is None and self.l2 is None:
            raise ValueError("a regularizer needs l1, l2 or both")
        return self

    @property
    def keras_class(self) -> str:
        """The Keras class that computes this penalty: L1, L2 or L1L2 (both given)."""
        if self.l2 is None:
            return "L1"
        return "L2" if self.l1 is None else "L1L2"

    @property
    def terms(self) -> list[tuple[str, float]]:
        """("l1" | "l2", factor) in the order Keras adds them; L1L2 skips a zero factor."""
        both = self.keras_class == "L1L2"
        return [
            (name, factor)
            for name, factor in (("l1", self.l1), ("l2", self.l2))
            if factor is not None and not (both and factor == 0.0)
        ]


class WeightedParams(LayerParams):
    """Parameters shared by layers with a kernel and a bias (dense, conv1d, conv2d)."""

    activation: Activation = Field(
        "linear",
        description="applied elementwise to the output, after the bias (linear: none; softmax "
        "over the last axis)",
    )
    use_bias: bool = Field(True, description="add a learned bias, one per output unit or filter")
    kernel_initializer: Initializer = Field(
        "glorot_uniform",
        description="how the kernel's starting values are drawn (seeded), as Keras draws them: "
        "a name, or a mapping such as `{variance_scaling: {scale: 2.0, mode: fan_out}}` "
        "(variance_scaling: scale 1.0, mode fan_in/fan_out/fan_avg, distribution "
        "truncated_normal/untruncated_normal/uniform; orthogonal: gain 1.0; random_normal and "
        "truncated_normal: mean 0.0, stddev 0.05; random_uniform: minval -0.05, maxval 0.05)",
    )
    bias_initializer: Initializer = Field(
        "zeros", description="how the bias's starting values are drawn (with use_bias)"
    )
    l2: NonNegative | None = Field(
        None,
        description="L2 kernel penalty: adds `l2 * sum(kernel ** 2)` to the training loss "
        "(default: none); short for `kernel_regularizer: {l2: ...}`",
    )
    kernel_regularizer: Regularizer | None = Field(
        None,
        description="penalty on the kernel, recomputed each step: `{l1: .., l2: ..}` adds "
        "`l1 * sum(abs(kernel)) + l2 * sum(kernel ** 2)` to the loss (Keras' L1, L2 or L1L2)",
    )
    bias_regularizer: Regularizer | None = Field(
        None, description="penalty on the bias, as kernel_regularizer (with use_bias)"
    )
    activity_regularizer: Regularizer | None = Field(
        None,
        description="penalty on the layer's output (after the activation), divided by the "
        "batch size, added to the loss of each batch",
    )

    @model_validator(mode="after")
    def _consistent(self) -> WeightedParams:
        if self.l2 is not None and self.kernel_regularizer is not None:
            raise ValueError(
                "give l2 or kernel_regularizer, not both (l2: x is short for "
                "kernel_regularizer: {l2: x})"
            )
        if self.bias_regularizer is not None and not self.use_bias:
            raise ValueError("bias_regularizer needs use_bias: true")
        if initializer_parts(self.bias_initializer)[0] == "orthogonal":
            raise ValueError(
                "bias_initializer: orthogonal needs a weight of rank 2 or more, "
                "and a bias has rank 1"
            )
        return self

    @property
    def kernel_penalty(self) -> Regularizer | None:
        """The kernel's regularizer, from kernel_regularizer or the l2 shorthand."""
        if self.l2 is not None:
            return Regularizer(l2=self.l2)
        return self.kernel_regularizer


@dataclass(frozen=True)
class Variable:
    """A weight a layer creates, named as Keras names it (``<layer>/<name>``).

    ``initializer`` may be given as a name or as a spec's initializer mapping; it is stored as
    the name, with the arguments (Keras' defaults filled in) in ``init_args``."""

    name: str
    shape: Shape
    initializer: Any
    trainable: bool = True
    l2: float | None = None
    regularizer: Regularizer | None = None
    init_args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        name, args = initializer_parts(self.initializer)
        object.__setattr__(self, "initializer", name)
        object.__setattr__(self, "init_args", args)
        if self.l2 is not None and self.regularizer is None:
            object.__setattr__(self, "regularizer", Regularizer(l2=self.l2))

    @property
    def init_kwargs(self) -> dict[str, Any]:
        """The initializer's arguments by name (every one, defaults included)."""
        return dict(self.init_args)

    @property
    def keras_init_args(self) -> tuple[tuple[str, Any], ...]:
        """The arguments that differ from the Keras initializer's defaults."""
        model = INITIALIZER_ARGS.get(self.initializer)
        if model is None:
            return ()
        defaults = model().model_dump()
        return tuple((k, v) for k, v in self.init_args if defaults[k] != v)

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
