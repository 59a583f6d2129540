"""dropout: inverted dropout at training time, identity at inference."""

from typing import Annotated

from pydantic import Field

from modelgen.layers.base import MAX_SIZE, LayerKind, LayerParams, Shape, ShapeError, register


class DropoutParams(LayerParams):
    rate: Annotated[float, Field(ge=0, lt=1)] = Field(
        description="fraction of the inputs set to zero during training; the rest are scaled by "
        "1 / (1 - rate)"
    )
    noise_shape: list[Annotated[int, Field(gt=0, le=MAX_SIZE)] | None] | None = Field(
        None,
        description="shape of the dropout mask per example (without the batch), broadcast over "
        "the input: e.g. [1, 1, 1] drops whole examples of an image (stochastic depth); null "
        "entries take the input's size (default: one mask value per input value)",
    )


@register
class Dropout(LayerKind):
    kind = "dropout"
    params = DropoutParams
    summary = "Inverted dropout while training; the seed is derived from the spec's seed."
    example = "{rate: 0.25}"
    example_input = (6,)
    uses_seed = True

    @staticmethod
    def output_shape(p: DropoutParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        if p.noise_shape is not None:
            if len(p.noise_shape) != len(shape):
                raise ShapeError(
                    f"noise_shape {p.noise_shape} has {len(p.noise_shape)} entries, the input "
                    f"{list(shape)} has {len(shape)} axes (without the batch)",
                    "give one entry per axis: 1 to share the mask along it, null for its size",
                )
            for size, noise in zip(shape, p.noise_shape, strict=True):
                if noise not in (None, 1, size):
                    raise ShapeError(
                        f"noise_shape {p.noise_shape} does not broadcast to the input "
                        f"{list(shape)}",
                        "each entry is 1, null or the input's size along that axis",
                    )
        return shape
