"""The fixed probe set every export is verified on: mixed lengths (padded batches) and max-length inputs."""

from __future__ import annotations

from lexsent.tokenizer import LongInputPolicy, TextTokenizer, Tokenized

PROBE_TEXTS = (
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "Open the file",
    "Could not connect to the server: the connection timed out after thirty seconds.",
    "A man is playing a guitar on the stage while the crowd sings along.",
    "Embeddings map sentences to vectors so that similar meanings end up close together.",
    "Save changes before closing?",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le chat dort sur le canapé depuis ce matin.",
    "猫はソファで寝ています。",
    "Error: permission denied while writing to /var/log/app.log (errno 13).",
    "Quarterly revenue grew by 12% compared with the same period last year, driven by new subscriptions.",
)
_LONG_TEXT = " ".join(
    "The export is verified on inputs that fill the whole context window, because bugs in position "
    "handling or masking only show up at the longest lengths a model accepts."
    for _ in range(80)
)


def probe_batches(tokenizer: TextTokenizer) -> list[list[Tokenized]]:
    """Batches to compare reference and ONNX outputs on.

    One padded batch of mixed lengths, the same texts one by one (no padding), and a batch mixing a
    max-length input (the long text, truncated to exactly `max_length`) with short ones.
    """
    items = tokenizer(list(PROBE_TEXTS), LongInputPolicy.TRUNCATE)
    long_item = tokenizer([_LONG_TEXT], LongInputPolicy.TRUNCATE)[0]
    singles = [[item] for item in items[:4]]
    return [items, *singles, [long_item, items[0], items[5]], [long_item]]
