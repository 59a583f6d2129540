"""conv1d: 1-D convolution over (steps, channels) inputs, channels last."""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    LayerKind,
    Shape,
    ShapeError,
    Size,
    Variable,
    WeightedParams,
    conv_output_length,
    register,
    require_rank,
)


class Conv1DParams(WeightedParams):
    filters: Size = Field(description="output channels: the number of convolution kernels")
    kernel_size: Size = Field(description="length of the convolution window, in steps")
    strides: Size = Field(1, description="steps the window moves between outputs")
    padding: Literal["valid", "same"] = Field(
        "valid",
        description="`same` pads so the output keeps the input's length (with strides 1); "
        "`valid` does not pad",
    )
    dilation_rate: Annotated[int, Field(gt=0, le=MAX_SIZE)] = Field(
        1,
        description="spacing between the window's taps (dilated convolution); > 1 needs strides 1",
    )


@register
class Conv1D(LayerKind):
    kind = "conv1d"
    params = Conv1DParams
    summary = "1-D convolution over sequences, channels last (NWC)."
    example = "{filters: 8, kernel_size: 3, padding: same, activation: relu}"
    example_input = (8, 3)

    @staticmethod
    def output_shape(p: Conv1DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 2, "sequences (steps, channels)")
        if p.dilation_rate > 1 and p.strides != 1:
            raise ShapeError("dilation_rate > 1 needs strides 1")
        steps = conv_output_length(shape[0], p.kernel_size, p.strides, p.padding, p.dilation_rate)
        if steps <= 0:
            raise ShapeError(
                f"kernel {p.kernel_size} does not fit input {list(shape)} with padding 'valid'",
                "use padding: same or a smaller kernel_size",
            )
        return (steps, p.filters)

    @staticmethod
    def variables(p: Conv1DParams, inputs: list[Shape]) -> list[Variable]:
        kernel = (p.kernel_size, inputs[0][-1], p.filters)
        out = [Variable("kernel", kernel, p.kernel_initializer, regularizer=p.kernel_penalty)]
        if p.use_bias:
            out.append(
                Variable("bias", (p.filters,), p.bias_initializer, regularizer=p.bias_regularizer)
            )
        return out
