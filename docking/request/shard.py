"""`--shard I/N`: which part of a run's input this process docks, as the user gives it. The rule that deals
batches to the parts lives with the run (docking.runs.shards)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from disco_core.errors import InputError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Part `number` (1-based) of `count` interleaved parts of a run's input."""
    number: int
    count: int

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"

    def takes(self, batch_number: int) -> bool:
        return batch_number % self.count == self.number - 1


def parse_shard(text: str) -> Shard:
    """'I/N' with 1 <= I <= N; anything else is an InputError naming the value."""
    match = _SHARD.match(str(text))
    if not match:
        raise InputError("--shard", f"{text!r} is not I/N (e.g. 1/4: the first of four parts)")
    number, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= number <= count:
        raise InputError("--shard", f"{text!r}: I must be 1..N (here N = {count})")
    return Shard(number, count)
