"""dropout: inverted dropout at training time, identity at inference."""

from typing import Annotated

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, register


class DropoutParams(LayerParams):
    rate: Annotated[float, Field(ge=0, lt=1)] = Field(
        description="fraction of the inputs set to zero during training; the rest are scaled by "
        "1 / (1 - rate)"
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
        return inputs[0]
