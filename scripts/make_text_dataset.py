"""Build examples/data/languages.npz: real short texts labelled with their language.

Usage: python scripts/make_text_dataset.py [VIM_LANG_DIR]
(default /usr/share/vim/vim90/lang; Debian's `vim-runtime` package carries it offline).

The texts are Vim's own translated messages, read from its gettext catalogues (`vim.mo`)
(a table of strings, parsed here as data: nothing is executed). Only
messages translated into all six languages are kept, so the classes are balanced and every
class says the same things: the model must tell the languages apart, not the topics. Each
text becomes UTF-8 byte ids + 1 (0 is padding, for `mask_zero`), cut or padded to 48.
Rows are shuffled once with seed 0. Vim and its translations: the Vim licence
(GPL-compatible; see `:help license`).
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

import numpy as np

LANGUAGES = ["de", "es", "fr", "it", "nl", "pt_BR"]
LENGTH = 48
OUT = Path(__file__).resolve().parent.parent / "examples" / "data" / "languages.npz"


def catalogue(folder: Path, language: str) -> dict[str, str]:
    """The translated messages of one language: English message -> translation. The .mo
    format is a table of offsets; its strings are decoded with the charset its header names."""
    data = (folder / language / "LC_MESSAGES" / "vim.mo").read_bytes()
    order = "<" if struct.unpack("<I", data[:4])[0] == 0x950412DE else ">"
    count, originals, translations = struct.unpack(order + "3I", data[8:20])

    def strings(table: int) -> list[bytes]:
        entries = [
            struct.unpack(order + "2I", data[table + 8 * i : table + 8 * i + 8])
            for i in range(count)
        ]
        return [data[offset : offset + length] for length, offset in entries]

    pairs = dict(zip(strings(originals), strings(translations), strict=True))
    header = pairs.get(b"", b"").decode("ascii", "replace")
    charset = header.split("charset=")[1].split()[0] if "charset=" in header else "utf-8"
    return {
        k.decode(charset): v.decode(charset)
        for k, v in pairs.items()
        if k and b"\x00" not in k and v and k != v  # no plural forms, no untranslated ones
    }


def clean(text: str) -> str | None:
    """One line of real words: error numbers, format codes and escapes dropped; None if short."""
    text = re.sub(r"^[EW]\d+: ", "", text)  # Vim's error numbers are the same in every language
    text = " ".join(text.replace("%s", " ").replace("%d", " ").replace("\\n", " ").split())
    letters = sum(ch.isalpha() for ch in text)
    return text if letters >= 12 else None


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/share/vim/vim90/lang")
    tables = [catalogue(folder, language) for language in LANGUAGES]
    shared = sorted(set.intersection(*(set(t) for t in tables)))
    texts, labels = [], []
    for english in shared:
        cleaned = [clean(table[english]) for table in tables]
        if all(cleaned):
            texts += cleaned
            labels += range(len(LANGUAGES))
    ids = np.zeros((len(texts), LENGTH), dtype="int32")
    for row, text in enumerate(texts):
        data = text.encode("utf-8")[:LENGTH]
        ids[row, : len(data)] = np.frombuffer(data, dtype=np.uint8).astype("int32") + 1
    order = np.random.default_rng(0).permutation(len(texts))
    np.savez_compressed(
        OUT,
        tokens=ids[order],
        language=np.asarray(labels, dtype="int32")[order],
        names=np.asarray(LANGUAGES),
    )
    print(
        f"{OUT.name}: {len(texts)} texts "
        f"({len(texts) // len(LANGUAGES)} messages x {len(LANGUAGES)} languages)"
    )


if __name__ == "__main__":
    main()
