"""Restart delays for child servers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: an iterable of delays in seconds.

    ``iter(Backoff())`` yields 0.5, 1, 2, 4, 8, 16, 30, 30, ... and stops
    after ``max_attempts`` delays (never when it is ``None``).

    Attributes:
        initial: The first delay (s). Default 0.5.
        factor: Each delay is the previous one times this. Default 2.
        maximum: No delay exceeds this (s). Default 30.
        max_attempts: How many delays to yield; ``None`` for no limit.
            Default 10.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    max_attempts: int | None = 10

    def __iter__(self) -> Iterator[float]:
        delay, attempt = self.initial, 0
        while self.max_attempts is None or attempt < self.max_attempts:
            yield min(delay, self.maximum)
            delay *= self.factor
            attempt += 1
