"""Natural-language captions for synthetic shapes: synonyms, phrase lists and sentence templates.

A caption names the object class (``noun`` always contains the class word) and its attributes: adjectives in front
of the noun ("a tall wooden-looking chair") and features after it ("with armrests and four thin legs"). The sentence
template and every synonym are drawn from the shape's own random generator, so captions are deterministic per seed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    """One of ``options``, uniformly."""
    return str(options[int(rng.integers(len(options)))])


def article(phrase: str) -> str:
    """'an' before a vowel sound, else 'a' ("a one-seat sofa", "a unique ...", "an oval table")."""
    word = phrase.lower()
    if word.startswith(("one", "uni", "use", "eu")):
        return "a"
    return "an" if word[:1] in "aeiou" else "a"


def join_phrases(parts: Sequence[str]) -> str:
    """'x', 'x and y', 'x, y and z'."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

_WITH = ("with", "with", "featuring", "that has", "having")
_TEMPLATES_FEATURES = (
    "{a} {np} {w} {f}",
    "{a} {np} {w} {f}",
    "{np} {w} {f}",
    "a 3d model of {a} {np} {w} {f}",
    "{a} {np} {w} {f}",
)
_TEMPLATES_PLAIN = ("{a} {np}", "{np}", "a 3d model of {a} {np}", "a simple {np}")


def sentence(rng: np.random.Generator, noun: str, adjectives: Sequence[str] = (), features: Sequence[str] = (),
             shuffle_features: bool = True) -> str:
    """Compose a caption: ``[article] [adjectives] noun [with feature, feature and feature]``.

    ``adjectives`` keep their order (English orders size before shape); empty strings are dropped. Features are
    shuffled (when ``shuffle_features``) so that the same shape type is described in different orders.
    """
    feats = [f for f in features if f]
    if shuffle_features and len(feats) > 1:
        feats = [feats[i] for i in rng.permutation(len(feats))]
    np_ = " ".join([a for a in adjectives if a] + [noun])
    if feats:
        template = pick(rng, _TEMPLATES_FEATURES)
        text = template.format(a=article(np_), np=np_, w=pick(rng, _WITH), f=join_phrases(feats))
    else:
        template = pick(rng, _TEMPLATES_PLAIN)
        text = template.format(a=article(np_), np=np_)
    return " ".join(text.split())
