"""``facerec keys rotate``: every sealed (or still plain) biometric blob re-encrypted with a new key,
in place, in small transactions.

Each batch of rows is opened with the key that sealed it and sealed again with the new key in one
transaction, which also writes the new key id: a row is always whole under exactly one key, so a
rotation killed at any point (SIGKILL, power) leaves rows of the old key and rows of the new, all
readable with the two keys, and running it again finishes the rest. The store refuses to open with
only one of the keys while rows of the other remain (Store._check_keys), so the old key must be
kept until a run ends with nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update

from facerec.errors import EncryptionKeyError
from facerec.store.models import SEALED_COLUMNS
from facerec.store.repository import Store

BATCH = 500

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationResult:
    key_id: str
    rows: int  # re-encrypted by this run
    remaining: int  # rows not under the new key afterwards (0 when done)


def _pending(table, columns, new_id: str):
    """Rows not yet under the new key: sealed by another, or plain with something to seal."""
    sealable = getattr(table, columns[0])
    return or_(
        and_(table.key_id.is_not(None), table.key_id != new_id),
        and_(table.key_id.is_(None), func.length(sealable) > 0),
    )


def pending(store: Store, new_id: str) -> int:
    """Rows still to re-encrypt with key ``new_id``."""
    with store.reading() as session:
        return sum(
            session.scalar(select(func.count()).select_from(table).where(_pending(table, columns, new_id))) or 0
            for table, columns in SEALED_COLUMNS.items()
        )


def rotate(store: Store, progress: Progress | None = None, batch: int = BATCH) -> RotationResult:
    """Re-encrypt every row with ``store.keyring.current`` (the new key; the old one among the
    keyring's older keys). Resumable: rows done by an earlier, interrupted run are skipped."""
    new = store.keyring.current
    if new is None:
        raise EncryptionKeyError("keys rotate needs the new key (--new-key-file)")
    total, done = pending(store, new.id), 0
    if progress:
        progress(0, total)
    for table, columns in SEALED_COLUMNS.items():
        key = table.__mapper__.primary_key[0]
        while True:
            with store.transaction() as session:
                rows = session.execute(
                    select(key, table.__table__.c.key_id, *(getattr(table, c) for c in columns))
                    .where(_pending(table, columns, new.id))
                    .order_by(key)
                    .limit(batch)
                ).all()
                for row_id, key_id, *blobs in rows:
                    values = {}
                    for column, blob in zip(columns, blobs, strict=True):
                        what = f"{table.__tablename__}.{column}"
                        values[column] = store.keyring.seal(store.keyring.open(blob, key_id, what), what)[0]
                    session.execute(update(table).where(key == row_id).values(key_id=new.id, **values))
            if not rows:
                break
            done += len(rows)
            if progress:
                progress(done, total)
    return RotationResult(new.id, done, pending(store, new.id))
