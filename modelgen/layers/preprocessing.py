"""rescaling and normalization: Keras' numeric preprocessing layers, inside the model.

A `normalization` without `mean` and `variance` learns them before training from the
training features (Keras' ``adapt``), so it must read a model input directly; the statistics
are non-trainable weights, saved with the others and replaced by a ``--init-weights`` load.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from modelgen.layers.base import LayerKind, LayerParams, Shape, ShapeError, Variable, register

Finite = Annotated[float, Field(allow_inf_nan=False)]


class RescalingParams(LayerParams):
    scale: Finite = Field(
        description="every input value is multiplied by this (1/255 maps [0, 255] to [0, 1])"
    )
    offset: Finite = Field(
        0.0, description="added after the scaling (-1 with scale 1/127.5 maps to [-1, 1])"
    )


@register
class Rescaling(LayerKind):
    kind = "rescaling"
    params = RescalingParams
    summary = "inputs * scale + offset, e.g. pixel values to [0, 1] (no weights)."
    example = "{scale: 0.00392156862745098}"
    example_input = (4, 4, 3)

    @staticmethod
    def output_shape(p: RescalingParams, inputs: list[Shape]) -> Shape:
        return inputs[0]


class NormalizationParams(LayerParams):
    axis: int = Field(
        -1,
        description="the axis whose entries get their own mean and variance (the features or "
        "channels), counting the batch as axis 0 (-1: the last); the others are reduced",
    )
    mean: Finite | Annotated[list[Finite], Field(min_length=1)] | None = Field(
        None,
        description="the mean to subtract: one number, or one per entry of `axis`; with "
        "`variance`. Default: learned from the training features before training, as Keras' "
        "adapt() computes it (the layer must then read a model input)",
    )
    variance: Finite | Annotated[list[Finite], Field(min_length=1)] | None = Field(
        None,
        description="the variance, at least 0, whose square root the layer divides by: given "
        "with `mean`",
    )
    invert: bool = Field(
        False, description="undo the normalization instead: inputs * sqrt(variance) + mean"
    )

    @model_validator(mode="after")
    def _mean_with_variance(self) -> NormalizationParams:
        if (self.mean is None) != (self.variance is None):
            raise ValueError("give mean and variance together, or neither (learned from data)")
        if isinstance(self.mean, list) != isinstance(self.variance, list) or (
            isinstance(self.mean, list) and len(self.mean) != len(self.variance)  # type: ignore[arg-type]
        ):
            raise ValueError("mean and variance must have one shape (two numbers or two lists)")
        variances = self.variance if isinstance(self.variance, list) else [self.variance]
        if any(v is not None and v < 0 for v in variances):
            raise ValueError(f"a variance cannot be negative, got {self.variance}")
        return self


def kept_axis(p: NormalizationParams, inputs: list[Shape]) -> int:
    """The kept axis as an index into the shape with the batch (Keras' ``_keep_axis``)."""
    ndim = len(inputs[0]) + 1
    if not -ndim <= p.axis < ndim:
        raise ShapeError(f"axis {p.axis} is out of range for inputs of rank {ndim - 1} + batch")
    axis = p.axis % ndim
    if axis == 0:
        raise ShapeError(
            "axis 0 is the batch, which has no statistics of its own",
            "use -1 (the last axis: features or channels) or another axis after the batch",
        )
    return axis


@register
class Normalization(LayerKind):
    kind = "normalization"
    params = NormalizationParams
    summary = (
        "(inputs - mean) / sqrt(variance) per feature or channel; the statistics are given or "
        "learned from the training data before training (Keras' adapt)."
    )
    example = "{mean: [0.5, -1.0, 2.0, 0.0], variance: [1.0, 4.0, 0.25, 2.0]}"
    example_input = (4,)

    @staticmethod
    def output_shape(p: NormalizationParams, inputs: list[Shape]) -> Shape:
        size = inputs[0][kept_axis(p, inputs) - 1]
        if isinstance(p.mean, list) and len(p.mean) not in (1, size):
            raise ShapeError(
                f"mean and variance have {len(p.mean)} entries, axis {p.axis} has {size}",
                f"give {size} numbers each, or one number for all",
            )
        return inputs[0]

    @staticmethod
    def variables(p: NormalizationParams, inputs: list[Shape]) -> list[Variable]:
        if p.mean is not None:
            return []
        kept = (inputs[0][kept_axis(p, inputs) - 1],)
        return [
            Variable("mean", kept, "zeros", trainable=False),
            Variable("variance", kept, "ones", trainable=False),
            Variable("count", (), "zeros", trainable=False),  # int64, always 0 (as in Keras)
        ]

    @staticmethod
    def adapts(p: LayerParams) -> bool:
        return getattr(p, "mean", None) is None
