"""BERT's uncased WordPiece tokenizer, from ``vocab.txt``, written from scratch.

Text becomes token ids in four steps (the same steps, in the same order, as the tokenizer
that ships with the model, so the ids are identical):

1. **Special tokens** written in the text (``[CLS]``, ``[SEP]``, ``[MASK]``, ``[PAD]``,
   ``[UNK]``, case-sensitive) are cut out first and kept whole.
2. **Normalise** each remaining piece: drop NUL, U+FFFD and control/format characters
   (Unicode categories C*, except tab/newline/CR, which count as spaces); map every
   whitespace character to a space; put spaces around CJK ideographs (each becomes a word);
   strip accents (NFD, then drop non-spacing marks: "é" -> "e"); lower-case character by
   character ("Σ" is "σ" everywhere, with no word-final "ς").
3. **Pre-tokenise**: split on spaces, and make every punctuation character (ASCII
   punctuation or Unicode category P*) a word of its own: ``"children's"`` ->
   ``children ' s``.
4. **WordPiece**: split each word greedily into the longest prefix found in the vocabulary,
   then the longest ``##``-prefixed continuation, and so on (``"tokenization"`` ->
   ``token ##ization``). A word with a piece that matches nothing, or longer than 100
   characters, becomes a single ``[UNK]``.

:meth:`WordPiece.encode` wraps the pieces as ``[CLS] ... [SEP]`` and truncates to
``max_length`` (256 for all-MiniLM-L6-v2, counting both markers).
Characters assigned after Unicode 9 may be treated differently by the reference
(its Rust tables are older than Python's ``unicodedata``); MovieLens text never has them.
"""
import os
import re
import unicodedata

import numpy as np

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL) + ")")
# CJK ideograph blocks whose characters BERT makes one word each (the reference's table).
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(cp):
    return any(lo <= cp <= hi for lo, hi in _CJK)


def _is_punctuation(ch):
    """ASCII punctuation (including $ + < = > ^ ` | ~, which Unicode calls symbols) or category P*."""
    return (33 <= ord(ch) <= 126 and not ch.isalnum()) or unicodedata.category(ch)[0] == "P"


def normalize(text, lowercase=True, strip_accents=True):
    """Step 2 of the module docstring: clean, space out CJK, strip accents, lower-case."""
    out = []
    for ch in text:
        if ch in "\t\n\r":
            out.append(" ")
        elif ch in "\x00\ufffd" or unicodedata.category(ch)[0] == "C":   # control, format, unassigned...
            continue
        elif ch.isspace():
            out.append(" ")
        elif _is_cjk(ord(ch)):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = "".join(out)
    if strip_accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if lowercase:
        text = "".join(c.lower() for c in text)       # per character, as the reference does
    return text


def pre_tokenize(text):
    """Step 3: words split on whitespace, each punctuation character a word of its own."""
    words = []
    for chunk in text.split():
        word = []
        for ch in chunk:
            if _is_punctuation(ch):
                if word:
                    words.append("".join(word))
                    word = []
                words.append(ch)
            else:
                word.append(ch)
        if word:
            words.append("".join(word))
    return words


class WordPiece:
    """A BERT WordPiece tokenizer over a fixed vocabulary.

    Parameters
    ----------
    vocab : list of str -- token of each id (line i of ``vocab.txt`` is id i).
    lowercase : bool -- lower-case (and, with ``strip_accents=None``, strip accents).
    strip_accents : bool or None -- None follows ``lowercase`` (BERT's rule).
    max_length : int -- most ids per text, ``[CLS]`` and ``[SEP]`` included.
    max_word_chars : int -- longer words become ``[UNK]``.
    """

    def __init__(self, vocab, lowercase=True, strip_accents=None, max_length=256, max_word_chars=100):
        self.vocab = list(vocab)
        self.ids = {tok: i for i, tok in enumerate(self.vocab)}
        missing = [s for s in SPECIAL if s not in self.ids]
        if missing:
            raise ValueError(f"WordPiece: the vocabulary lacks the special tokens {missing}")
        if max_length < 2:
            raise ValueError(f"WordPiece: max_length={max_length} leaves no room for [CLS] and [SEP]")
        self.lowercase = bool(lowercase)
        self.strip_accents = self.lowercase if strip_accents is None else bool(strip_accents)
        self.max_length = int(max_length)
        self.max_word_chars = int(max_word_chars)
        self.unk, self.cls, self.sep, self.pad = (self.ids[t] for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"))

    @classmethod
    def from_file(cls, path, **kwargs):
        """Read ``vocab.txt`` (one token per line, UTF-8) and build the tokenizer."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                vocab = [line.rstrip("\n").rstrip("\r") for line in f]
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"vocabulary {path!r} could not be read as UTF-8 text: {exc}") from exc
        if vocab and vocab[-1] == "":
            vocab.pop()
        return cls(vocab, **kwargs)

    def __len__(self):
        return len(self.vocab)

    def word_pieces(self, word):
        """Step 4: greedy longest-match-first sub-words of one word, or ``["[UNK]"]``."""
        if len(word) > self.max_word_chars:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):           # longest candidate first
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    break
            else:
                return ["[UNK]"]                              # nothing matches: the whole word is unknown
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text):
        """Sub-word tokens of ``text`` (no ``[CLS]``/``[SEP]``, no truncation)."""
        tokens = []
        for k, part in enumerate(_SPECIAL_RE.split(text or "")):
            if k % 2:                                         # odd parts are the special tokens themselves
                tokens.append(part)
                continue
            for word in pre_tokenize(normalize(part, self.lowercase, self.strip_accents)):
                tokens.extend(self.word_pieces(word))
        return tokens

    def encode(self, text):
        """Token ids ``[CLS] pieces... [SEP]``, truncated to ``max_length``; a list of int."""
        body = [self.ids[t] for t in self.tokenize(text)][: self.max_length - 2]
        return [self.cls] + body + [self.sep]

    def batch(self, texts):
        """Right-padded ids and mask of several texts.

        Returns
        -------
        ids : int64 (B, T) -- ``[PAD]`` after each text's ``[SEP]``; T is the longest text.
        mask : bool (B, T) -- True on real tokens.
        """
        rows = [self.encode(t) for t in texts]
        T = max((len(r) for r in rows), default=2)
        ids = np.full((len(rows), T), self.pad, dtype=np.int64)           # (B, T)
        mask = np.zeros((len(rows), T), dtype=bool)                        # (B, T)
        for b, r in enumerate(rows):
            ids[b, :len(r)], mask[b, :len(r)] = r, True
        return ids, mask

    def decode(self, ids):
        """Readable text of ids: specials dropped, ``##`` pieces glued to the previous one."""
        words = []
        for i in ids:
            tok = self.vocab[int(i)]
            if tok in SPECIAL and tok != "[UNK]":
                continue
            if tok.startswith("##") and words:
                words[-1] += tok[2:]
            else:
                words.append(tok)
        return " ".join(words)
