"""The Keras behaviour behind modelgen's rule of one masked multi_head_attention per path.

Keras 3.15's MultiHeadAttention clears the padding masks of the tensors it reads while the
model runs, so the residual add of its query merges an unmasked tensor and loses the mask: a
second attention after it gets no masks, while global_avg_pool1d (which takes a ``mask``
argument) still gets the mask recorded when the model was built. modelgen refuses the second
masked attention (``_flow_masks``); when this test fails, Keras changed and the rule can go."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_keras_clears_the_masks_an_attention_reads() -> None:
    import keras
    import tensorflow as tf
    from keras import layers
    from keras.src.layers.attention.multi_head_attention import MultiHeadAttention

    seen: dict[str, tuple[bool, bool]] = {}
    original = MultiHeadAttention._compute_attention_mask

    def record(self, query, value, query_mask=None, value_mask=None, **kwargs):
        seen[self.name] = (query_mask is not None, value_mask is not None)
        return original(self, query, value, query_mask=query_mask, value_mask=value_mask, **kwargs)

    pooled_mask: list[bool] = []

    class Pool(layers.GlobalAveragePooling1D):
        def call(self, inputs, mask=None):
            pooled_mask.append(mask is not None)
            return super().call(inputs, mask)

    ids = keras.Input((6,), dtype="int32")
    x = layers.Embedding(9, 4, mask_zero=True)(ids)
    first = layers.MultiHeadAttention(1, 2, name="first")(x, x)
    x = layers.Add()([x, first])
    second = layers.MultiHeadAttention(1, 2, name="second")(x, x)
    x = layers.Add()([x, second])
    model = keras.Model(ids, Pool()(x))
    MultiHeadAttention._compute_attention_mask = record
    try:
        tf.function(lambda a: model(a, training=True))(np.array([[1, 2, 0, 0, 0, 0]]))
    finally:
        MultiHeadAttention._compute_attention_mask = original
    assert seen == {"first": (True, True), "second": (False, False)}
    assert pooled_mask == [True]
