"""Single-flight memoisation: compute a value once per key, however many threads ask at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Slot(Generic[V]):
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class OnceMap(Generic[K, V]):
    """A map whose values are computed on first request. Concurrent askers of the same key wait for the
    first one; a failure is remembered and raised to every asker, so a broken identity costs one request
    per run, not one per generator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[K, _Slot[V]] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot()
        if owner:
            try:
                slot.value = compute()
            except BaseException as exc:  # noqa: BLE001 - re-raised to every asker below
                slot.error = exc
            finally:
                slot.done.set()
        else:
            slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[return-value]

    def discard(self, key: K) -> None:
        """Forget one key, so the next ``get`` computes it again."""
        with self._lock:
            self._slots.pop(key, None)

    def discard_failed(self) -> None:
        """Forget every key whose computation failed, so the next ``get`` tries again."""
        with self._lock:
            for key in [k for k, slot in self._slots.items() if slot.done.is_set() and slot.error is not None]:
                del self._slots[key]

    def values(self) -> Iterator[V]:
        """The values computed successfully so far."""
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            if slot.done.is_set() and slot.error is None:
                yield slot.value  # type: ignore[misc]

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)
