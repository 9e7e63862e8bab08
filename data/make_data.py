"""Make the sample datasets in ``data/`` (deterministic: the same files on every run).

- ``reviews/train.csv`` and ``reviews/test.csv``: short product reviews with ``text,label``
  (``positive`` / ``negative``) for the ``text-classification`` recipe; the test file is the
  held-out set: other products, and phrasings that training never shows.
- ``stories.jsonl``: a small ``text`` set for the ``causal-lm`` recipe.
- ``qa.jsonl``: a small ``prompt,completion`` set for the ``causal-lm`` recipe.

Run it from anywhere: ``python data/make_data.py`` (``--out DIR`` writes elsewhere).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

PRODUCTS = [
    "headphones",
    "blender",
    "laptop",
    "phone case",
    "coffee maker",
    "backpack",
    "desk lamp",
    "keyboard",
    "monitor",
    "water bottle",
    "tent",
    "jacket",
    "vacuum",
    "toaster",
    "camera",
    "charger",
    "mattress",
    "office chair",
    "kettle",
    "speaker",
    "watch",
    "printer",
    "router",
    "sneakers",
    "umbrella",
    "frying pan",
    "drill",
    "novel",
    "board game",
    "mouse",
]
POSITIVE = [
    "works perfectly",
    "is excellent",
    "exceeded my expectations",
    "is worth every penny",
    "is fantastic",
    "feels sturdy and well made",
    "is a joy to use",
    "is great value",
    "arrived quickly and works great",
    "is the best I have owned",
    "is reliable",
    "does exactly what it promises",
    "is beautifully designed",
    "is comfortable and solid",
    "made my day",
    "impressed the whole family",
]
NEGATIVE = [
    "broke after two days",
    "is terrible",
    "was a complete waste of money",
    "stopped working",
    "is cheaply made",
    "is a disappointment",
    "arrived damaged",
    "is awful",
    "feels flimsy and fragile",
    "never worked properly",
    "is the worst I have owned",
    "is unreliable",
    "fell apart quickly",
    "is uncomfortable and noisy",
    "ruined my week",
    "is overpriced junk",
]
POS_OPENERS = [
    "Love it!",
    "Highly recommend.",
    "Five stars.",
    "So happy with this.",
    "Great buy.",
    "Would buy again.",
    "",
]
NEG_OPENERS = ["Avoid.", "Do not buy.", "One star.", "Very unhappy.", "Returned it.", "Never again.", ""]
POS_CLOSERS = ["I would recommend it to anyone.", "Thank you!", "Perfect gift.", "Really pleased.", ""]
NEG_CLOSERS = ["I want a refund.", "Save your money.", "Support was no help.", "Really annoyed.", ""]
TEMPLATES = [
    "{opener} The {product} {phrase}. {closer}",
    "{opener} This {product} {phrase}. {closer}",
    "{opener} My new {product} {phrase}, {closer_lower}",
    "Bought the {product} last month and it {phrase}. {closer}",
    "{opener} Honestly, the {product} {phrase}.",
]


def _review(rng: random.Random, positive: bool, products: list[str], phrases: int) -> str:
    phrase = rng.choice((POSITIVE if positive else NEGATIVE)[:phrases])
    opener = rng.choice(POS_OPENERS if positive else NEG_OPENERS)
    closer = rng.choice(POS_CLOSERS if positive else NEG_CLOSERS)
    text = rng.choice(TEMPLATES).format(
        opener=opener,
        product=rng.choice(products),
        phrase=phrase,
        closer=closer,
        closer_lower=(closer[:1].lower() + closer[1:]) if closer else "that is all.",
    )
    return " ".join(text.split())


def reviews(rng: random.Random, count: int, products: list[str], phrases: int) -> list[dict[str, str]]:
    rows = []
    for i in range(count):
        positive = i % 2 == 0
        rows.append(
            {
                "text": _review(rng, positive, products, phrases),
                "label": "positive" if positive else "negative",
            }
        )
    rng.shuffle(rows)
    return rows


ANIMALS = ["cat", "dog", "fox", "owl", "bear", "frog", "duck", "wolf"]
PLACES = ["the garden", "the forest", "the river", "the hill", "the barn", "the lake"]
ACTIONS = ["ran to", "walked to", "slept in", "sang in", "looked at", "played near"]
ENDINGS = ["It was a good day.", "Then it went home.", "The sun was warm.", "It was happy."]


def stories(rng: random.Random, count: int) -> list[dict[str, str]]:
    out = []
    for _ in range(count):
        animal = rng.choice(ANIMALS)
        text = f"The {animal} {rng.choice(ACTIONS)} {rng.choice(PLACES)}. {rng.choice(ENDINGS)}"
        out.append({"text": text})
    return out


def qa(rng: random.Random, count: int) -> list[dict[str, str]]:
    out = []
    for _ in range(count):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        out.append({"prompt": f"What is {a} plus {b}? Answer:", "completion": f" {a + b}."})
    return out


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write into (default: data/)")
    parser.add_argument("--train", type=int, default=800, help="training reviews")
    parser.add_argument("--test", type=int, default=200, help="held-out reviews")
    args = parser.parse_args(argv)
    rng = random.Random(20240521)
    # held-out products and the last three phrases of each kind never appear in training: the
    # classifier must learn the sentiment, not the strings
    train_products, test_products = PRODUCTS[:24], PRODUCTS[24:]
    train_phrases = len(POSITIVE) - 3
    write_csv(args.out / "reviews" / "train.csv", reviews(rng, args.train, train_products, train_phrases))
    write_csv(args.out / "reviews" / "test.csv", reviews(rng, args.test, test_products, len(POSITIVE)))
    write_jsonl(args.out / "stories.jsonl", stories(rng, 400))
    write_jsonl(args.out / "qa.jsonl", qa(rng, 300))


if __name__ == "__main__":
    main()
