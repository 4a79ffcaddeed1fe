"""A finished batch's output and error files (spec §10.4), assembled from its lines' results.

The file ids are derived from the batch id and the bytes are rewritten whole, so assembling
again after a crash (the batch was ``finalizing``) yields the same files, and the store
inserts each file row once, in the transaction that ends the batch. Lines are written in
input order (clients still join on ``custom_id``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..store import Store
from ..store.batches import BatchInfo
from ..store.files import Blob

OUTPUT, ERRORS = "batch_output", "batch_error"


def file_ids(batch_id: str) -> dict[str, str]:
    suffix = batch_id.removeprefix("batch_")
    return {OUTPUT: f"file-batch_output-{suffix}", ERRORS: f"file-batch_error-{suffix}"}


def _lines(store: Store, batch_id: str, succeeded: bool) -> Iterator[bytes]:
    for status, result in store.batches.results(batch_id):
        if (status == "succeeded") == succeeded and result is not None:
            yield (json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def assemble(store: Store, batch: BatchInfo) -> list[tuple[str, str, str, Blob]]:
    """(file id, purpose, filename, blob) of the output file (when a line succeeded) and the
    error file (when one did not)."""
    counts = store.batches.line_counts(batch.id)
    succeeded = counts.get("succeeded", 0)
    others = sum(n for status, n in counts.items()
                 if status not in ("succeeded", "pending", "running"))
    ids = file_ids(batch.id)
    files = []
    if succeeded:
        blob = store.files.write_blob(ids[OUTPUT], _lines(store, batch.id, True))
        files.append((ids[OUTPUT], OUTPUT, f"{batch.id}_output.jsonl", blob))
    if others:
        blob = store.files.write_blob(ids[ERRORS], _lines(store, batch.id, False))
        files.append((ids[ERRORS], ERRORS, f"{batch.id}_error.jsonl", blob))
    return files
