"""The exactly-once history checker used by test_eos.py.

``check_history(produced, consumed)`` takes what was produced (partition,
record id, and the outcome of the transaction that wrote it: committed,
aborted, or unknown when a crash hid the outcome) and what read_committed
consumers read (partition, record id), and raises ``HistoryError`` on loss,
duplication, reads of aborted records, reads of records nobody produced and
per-partition reordering."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

COMMITTED, ABORTED, UNKNOWN = "committed", "aborted", "unknown"


class HistoryError(AssertionError):
    """A history violates exactly-once; ``.problems`` maps kind -> examples."""

    def __init__(self, problems: dict):
        self.problems = problems
        lines = [f"{kind}: {len(ex)} e.g. {ex[:5]}" for kind, ex in problems.items()]
        super().__init__("history check failed:\n  " + "\n  ".join(lines))


def check_history(produced: Iterable, consumed: Iterable, *, check_order: bool = True) -> dict:
    """Check a transactional history.

    ``produced``: ``(partition, record_id, outcome)`` in the order the records
    were produced, outcome being "committed", "aborted" or "unknown" (the
    writer died while its commit was in flight). Record ids are unique.
    ``consumed``: ``(partition, record_id)`` in the order read_committed
    consumers read them (per partition).

    Fails (HistoryError) on:
      loss        a committed record was never read
      duplicate   a record was read more than once
      aborted     a record of an aborted transaction was read
      phantom     a record nobody produced was read (or in another partition)
      order       (check_order) within a partition, records were read in a
                  different order than they were produced
    An "unknown" record may be read at most once. Returns counts on success.
    """
    outcome: dict = {}
    where: dict = {}
    index: dict = {}
    for i, (part, rid, out) in enumerate(produced):
        if out not in (COMMITTED, ABORTED, UNKNOWN):
            raise ValueError(f"bad outcome {out!r} for {rid!r}")
        if rid in outcome:
            raise ValueError(f"record id {rid!r} produced twice")
        outcome[rid], where[rid], index[rid] = out, part, i
    consumed = list(consumed)
    counts = Counter(rid for _p, rid in consumed)
    problems: dict = {}

    def bad(kind, ex):
        problems.setdefault(kind, []).append(ex)

    for rid, n in counts.items():
        if n > 1:
            bad("duplicate", (rid, n))
    for part, rid in consumed:
        if rid not in outcome or where[rid] != part:
            bad("phantom", (part, rid))
        elif outcome[rid] == ABORTED:
            bad("aborted", (part, rid))
    read_in_place = {rid for part, rid in consumed if where.get(rid, object()) == part}
    for rid, out in outcome.items():
        if out == COMMITTED and rid not in read_in_place:
            bad("loss", (where[rid], rid))
    if check_order:
        last: dict = {}
        for part, rid in consumed:
            if rid not in index:
                continue
            prev = last.get(part)
            if prev is not None and index[rid] < index[prev]:
                bad("order", (part, prev, rid))
            last[part] = rid if prev is None or index[rid] > index[prev] else prev
    if problems:
        raise HistoryError(problems)
    by_outcome = Counter(outcome.values())
    return {"produced": len(outcome), "consumed": len(consumed),
            "committed": by_outcome[COMMITTED], "aborted": by_outcome[ABORTED],
            "unknown": by_outcome[UNKNOWN],
            "unknown_read": sum(1 for r in counts if outcome.get(r) == UNKNOWN)}
