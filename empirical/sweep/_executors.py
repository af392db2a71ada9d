"""Where a sweep's tasks run: here, one after another, or on a Dask cluster."""

from __future__ import annotations

import uuid
from collections import deque

from empirical.sweep._tasks import train_task


class _LocalTasks:
    """Tasks run here, one after another; follow-ups (grid extensions) before new work, so
    a batch size is finished, and written, as early as it can be."""

    def __init__(self):
        self._queue = deque()

    def submit(self, key, *args, follow_up: bool = False) -> None:
        (self._queue.appendleft if follow_up else self._queue.append)((key, args))

    def completed(self):
        while self._queue:
            key, args = self._queue.popleft()
            yield key, train_task(*args)

    def cancel(self) -> None:
        self._queue.clear()


class _DaskTasks:
    """Tasks on a ``dask.distributed`` client, yielded as they complete (in any order).

    A task lost with its worker is rerun by the scheduler under the same key (unique to this
    sweep), and its result arrives here once.
    """

    def __init__(self, client):
        from distributed import as_completed
        self._client, self._keys, self._done = client, {}, as_completed()

    def submit(self, key, *args, follow_up: bool = False) -> None:
        future = self._client.submit(train_task, *args, key=_task_key(key), pure=False,
                                     priority=1 if follow_up else 0, retries=0)
        self._keys[future.key] = key
        self._done.add(future)

    def completed(self):
        for future in self._done:
            result = future.result()
            yield self._keys.pop(future.key), result
            future.release()

    def cancel(self) -> None:
        self._client.cancel(list(self._done.futures))
        self._done.clear()


def _task_key(key) -> str:
    batch_sizes, rnd, block = key
    return (f"lrbs-train-B{'-'.join(map(str, batch_sizes))}-round{rnd}-seeds"
            f"{'-'.join(map(str, block))}-{uuid.uuid4().hex[:8]}")
