"""One kind of vector per store: refusing to search or enroll across models or centres.

Vectors of another model, or of the same model on another centre, are on another scale: a store
holding them cannot be compared with this embedder's. The refusal says what to do about it (use
that model, or `facerec reembed`), in the words the command line understands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from facerec.errors import StoreError
from facerec.runtime import weights

if TYPE_CHECKING:
    from facerec.embedding.embedder import Embedder
    from facerec.store import Store


def check_kinds(store: Store, embedder: Embedder) -> None:
    """StoreError unless every vector of ``store`` is of ``embedder``'s kind (model and centre).
    Scanning the samples' kinds is O(samples): callers do it once per store revision."""
    from facerec.store.centroids import Centroids

    held = Centroids(store).kinds() - {(embedder.model, embedder.centre_id)}
    if held:
        raise StoreError(mixed_kinds_message(held, embedder))


def mixed_kinds_message(held: set[tuple[str, str | None]], embedder: Embedder) -> str:
    """Why a store of ``held`` kinds cannot be used with ``embedder``, and the way out."""
    from facerec.store.vectors import describe_kinds

    mine = (embedder.model, embedder.centre_id)
    if any(model == embedder.model for model, _ in held):
        return (
            f"the store holds vectors of {describe_kinds(held)}, but {describe_kinds({mine})} makes them now "
            "(facerec centres embeddings since 0.2): run `facerec reembed` to re-centre them (exact, in seconds: "
            "no photo or crop is embedded again)"
        )
    name = sorted(model for model, _ in held)[0]
    return (
        f"the store holds embeddings of model {', '.join(sorted({m for m, _ in held}))}, not {embedder.model}; "
        f"use that model (--model {model_hint(name)}) or re-embed the store with `facerec reembed`"
    )


def model_hint(name: str) -> str:
    """How to name a model on the command line: its manifest name, or the file a trained one is in."""
    if name in weights.model_names():
        return name
    return f"FILE, the model file made by facerec train that is named {name}: its file name, then its sha256's start"


class KindCheck:
    """The store revision whose vectors were last found all of one kind: scanning the samples'
    kinds is O(samples), so a recognizer does it once per store revision, not once per photo."""

    def __init__(self) -> None:
        self.checked_at: int | None = None

    def check(self, store: Store, embedder: Embedder) -> int:
        """:func:`check_kinds`, unless done at the store's revision now; returns that revision."""
        revision = store.revision()
        if self.checked_at != revision:
            check_kinds(store, embedder)
            self.checked_at = revision
        return revision
