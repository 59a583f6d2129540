"""simple_rnn, lstm, gru: recurrent layers over (steps, features), as Keras 3 runs them on CPU.

Keras names each weight after the layer's cell (``lstm/lstm_cell/kernel``); the kernel is
``glorot_uniform``, the recurrent kernel ``orthogonal``, the bias ``zeros`` (an LSTM's forget
gate bias starts at ones with ``unit_forget_bias``). The recurrent kernels' orthogonal starting
values are written out by the recurrent templates themselves (``templates/*/recurrent.jinja``),
under the initializer name ``orthogonal`` so that a general initializer can take them over.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from modelgen.layers.base import (
    Activation,
    LayerKind,
    LayerParams,
    Shape,
    ShapeError,
    Size,
    Variable,
    register,
)

Rate = Annotated[float, Field(ge=0, lt=1)]


class RecurrentParams(LayerParams):
    units: Size = Field(description="size of the hidden state and of each step's output")
    activation: Activation = Field(
        "tanh", description="applied to the candidate state (and, in an LSTM, to the cell state)"
    )
    use_bias: bool = Field(True, description="add learned biases to the gates")
    return_sequences: bool = Field(
        False,
        description="output every step's hidden state (steps, units) instead of the last one "
        "(units,)",
    )
    dropout: Rate = Field(
        0.0,
        description="dropout rate on the inputs while training; one mask per batch, the same "
        "for every step",
    )
    recurrent_dropout: Rate = Field(
        0.0,
        description="dropout rate on the hidden state fed back while training; one mask per "
        "batch, the same for every step",
    )


class SimpleRNNParams(RecurrentParams):
    """The parameters of a `simple_rnn` layer."""


class GatedParams(RecurrentParams):
    recurrent_activation: Activation = Field(
        "sigmoid", description="applied to the gates (update, reset, forget...)"
    )


class LSTMParams(GatedParams):
    """The parameters of an `lstm` layer."""

    unit_forget_bias: bool = Field(
        True, description="start the forget gate's bias at 1 (the other biases at 0)"
    )


class GRUParams(GatedParams):
    """The parameters of a `gru` layer."""

    reset_after: bool = Field(
        True,
        description="apply the reset gate after the recurrent matrix product (Keras' and "
        "cuDNN's default); false: before it, with a single bias",
    )


def sequence_input(kind: str, inputs: list[Shape]) -> Shape:
    """The one input, checked to be (steps, features)."""
    (shape,) = inputs
    if len(shape) != 2:
        raise ShapeError(
            f"expects (steps, features) per example, got shape {list(shape)}",
            "give it a sequence: an `embedding` of token ids, or `reshape` to [steps, features]"
            if len(shape) < 2
            else "`reshape` the input to [steps, features]",
        )
    return shape


class Recurrent(LayerKind):
    """Shared shape rule and variables; ``gates`` is how many kernel blocks the cell has."""

    gates: ClassVar[int] = 1
    cell: ClassVar[str]
    uses_seed = True
    example_input = (5, 3)

    @classmethod
    def final_activation(cls, p: LayerParams) -> str:
        """Never softmax/sigmoid for the loss: the output leaves a while loop, so Keras does not
        see an activation op there and cannot take logits from it."""
        return "linear"

    @classmethod
    def output_shape(cls, p: RecurrentParams, inputs: list[Shape]) -> Shape:
        steps, _ = sequence_input(cls.kind, inputs)
        return (steps, p.units) if p.return_sequences else (p.units,)

    @classmethod
    def bias_shape(cls, p: RecurrentParams) -> Shape:
        return (cls.gates * p.units,)

    @classmethod
    def variables(cls, p: RecurrentParams, inputs: list[Shape]) -> list[Variable]:
        features = sequence_input(cls.kind, inputs)[-1]
        width = cls.gates * p.units
        out = [
            Variable(f"{cls.cell}/kernel", (features, width), "glorot_uniform"),
            Variable(f"{cls.cell}/recurrent_kernel", (p.units, width), "orthogonal"),
        ]
        if p.use_bias:
            out.append(Variable(f"{cls.cell}/bias", cls.bias_shape(p), "zeros"))
        return out


@register
class SimpleRNN(Recurrent):
    kind = "simple_rnn"
    cell = "simple_rnn_cell"
    params = SimpleRNNParams
    summary = "Fully connected recurrence: h = activation(x @ kernel + bias + h @ recurrent)."
    example = "{units: 4, return_sequences: true}"


@register
class LSTM(Recurrent):
    kind = "lstm"
    cell = "lstm_cell"
    gates = 4
    params = LSTMParams
    summary = "Long short-term memory (gates i, f, c, o), run step by step as Keras does on CPU."
    example = "{units: 4}"


@register
class GRU(Recurrent):
    kind = "gru"
    cell = "gru_cell"
    gates = 3
    params = GRUParams
    summary = "Gated recurrent unit (gates z, r, h), run step by step as Keras does on CPU."
    example = "{units: 4, return_sequences: true}"

    @classmethod
    def bias_shape(cls, p: GRUParams) -> Shape:
        return (2, 3 * p.units) if p.reset_after else (3 * p.units,)
