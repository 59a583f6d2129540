"""bidirectional: one recurrent layer run forwards and a copy run backwards, outputs merged.

As Keras builds it, the backward copy is made from the wrapped layer's configuration, seeds
included: both directions start from the same weights and draw the same dropout masks. The
weights are named ``<layer>/forward_<kind>/<cell>/...`` and ``<layer>/backward_<kind>/...``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelgen.layers.base import LayerKind, LayerParams, Shape, Variable, register
from modelgen.layers.recurrent import (
    GRU,
    LSTM,
    GRUParams,
    LSTMParams,
    Recurrent,
    SimpleRNN,
    SimpleRNNParams,
)

KINDS: dict[str, type[Recurrent]] = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


class WrappedLayer(LayerParams):
    """Exactly one recurrent layer, written as in a `layers:` list."""

    simple_rnn: SimpleRNNParams | None = Field(None, description="a simple_rnn layer")
    lstm: LSTMParams | None = Field(None, description="an lstm layer")
    gru: GRUParams | None = Field(None, description="a gru layer")

    @model_validator(mode="after")
    def _one(self) -> WrappedLayer:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one recurrent layer (simple_rnn, lstm or gru), got "
                f"{len(given) or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def params(self) -> SimpleRNNParams:
        return getattr(self, self.kind)


class BidirectionalParams(LayerParams):
    layer: WrappedLayer = Field(
        description="the recurrent layer to run in both directions, e.g. `{lstm: {units: 8}}`"
    )
    merge_mode: Literal["concat", "sum", "mul", "ave"] = Field(
        "concat",
        description="how the two directions' outputs combine: concat (twice the units), sum, "
        "mul or ave",
    )

    @model_validator(mode="after")
    def _seeded(self) -> BidirectionalParams:
        inner = self.layer.params
        if self.layer.kind == "simple_rnn" and (inner.dropout or inner.recurrent_dropout):
            # keras/src/layers/rnn/simple_rnn.py: SimpleRNN.get_config has no "seed".
            raise ValueError(
                "a bidirectional simple_rnn cannot use dropout: Keras copies the layer from its "
                "configuration, which drops a SimpleRNN's seed, so its masks are not reproducible"
                " (use lstm or gru, or dropout: 0 and recurrent_dropout: 0)"
            )
        return self


@register
class Bidirectional(LayerKind):
    kind = "bidirectional"
    params = BidirectionalParams
    summary = "Run a recurrent layer forwards and backwards over the steps; merge the outputs."
    example = "{layer: {lstm: {units: 4, return_sequences: true}}, merge_mode: concat}"
    example_input = (5, 3)
    uses_seed = True

    @staticmethod
    def final_activation(p: LayerParams) -> str:
        return "linear"

    @staticmethod
    def output_shape(p: BidirectionalParams, inputs: list[Shape]) -> Shape:
        inner = p.layer
        shape = KINDS[inner.kind].output_shape(inner.params, inputs)
        if p.merge_mode == "concat":
            return shape[:-1] + (2 * shape[-1],)
        return shape

    @staticmethod
    def variables(p: BidirectionalParams, inputs: list[Shape]) -> list[Variable]:
        inner = p.layer
        own = KINDS[inner.kind].variables(inner.params, inputs)
        return [
            Variable(f"{direction}_{inner.kind}/{v.name}", v.shape, v.initializer)
            for direction in ("forward", "backward")
            for v in own
        ]
