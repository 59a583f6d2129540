"""Regenerate the bundled datasets in examples/data/ from scikit-learn's offline copies.

Usage: python scripts/make_datasets.py   (needs scikit-learn; no network)

digits.npz: the 1,797 8x8 handwritten digits of the UCI ML hand-written digits dataset
(E. Alpaydin, C. Kaynak; CC BY 4.0), as scikit-learn ships it. x: (1797, 8, 8, 1) float32
in [0, 1] (pixel / 16), y: (1797,) int64 class 0-9. Shuffled once with seed 0 so that
`validation_split` (which holds out the last samples) gets every class.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent.parent / "examples" / "data"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    x = (digits.images[order] / 16.0).astype("float32")[..., None]
    y = digits.target[order].astype("int64")
    np.savez_compressed(OUT / "digits.npz", x=x, y=y)
    print(f"wrote {OUT / 'digits.npz'}: x {x.shape}, y {y.shape}")


if __name__ == "__main__":
    main()
