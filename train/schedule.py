"""Keras callbacks that shape a run by time: a training-time budget and a cosine anneal.

- `TimeBudget(seconds)`: lets the epoch that crosses the budget finish (its checkpoint,
  history row and backup are written as usual), then stops training cleanly. Two
  architectures trained with the same budget on the same machine cost the same.
- `CosineAnneal(lr, epochs, seconds)`: the learning rate follows half a cosine from `lr`
  to `lr * final_fraction`, driven by whichever is further along, the epochs or the
  time budget, so a budgeted run spends its last minutes at a low rate.

Both measure wall time from the start of `fit` in this session (a resumed run gets its
budget afresh).
"""
from __future__ import annotations

import math
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch during which `seconds` of training have passed."""

    def __init__(self, seconds: float, clock=time.perf_counter):
        super().__init__()
        if seconds <= 0:
            raise ValueError(f"time budget must be positive, got {seconds} s")
        self.seconds = float(seconds)
        self._clock = clock
        self._start = None
        self.stopped = False
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self._start = self._clock()

    def elapsed(self) -> float:
        return 0.0 if self._start is None else self._clock() - self._start

    def on_epoch_end(self, epoch, logs=None):
        if self.elapsed() >= self.seconds:
            self.stopped, self.stopped_epoch = True, epoch
            self.model.stop_training = True


class CosineAnneal(keras.callbacks.Callback):
    """Half-cosine learning-rate decay over the epochs or the time budget, updated every few batches."""

    def __init__(self, lr: float, epochs: int, seconds: float | None = None, final_fraction: float = 0.02,
                 every: int = 10, clock=time.perf_counter):
        super().__init__()
        self.lr, self.epochs, self.seconds = float(lr), int(epochs), seconds
        self.final = float(lr) * final_fraction
        self.every = max(1, int(every))
        self._clock = clock
        self._start = None
        self._epoch = 0

    def progress(self, epoch: int, batch: int) -> float:
        steps = max(1, int((self.params or {}).get("steps") or 1))
        done = (epoch + batch / steps) / max(1, self.epochs)
        if self.seconds:
            done = max(done, (self._clock() - self._start) / self.seconds)
        return min(1.0, done)

    def rate(self, progress: float) -> float:
        return self.final + (self.lr - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_begin(self, logs=None):
        self._start = self._clock()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if batch % self.every == 0:
            self.model.optimizer.learning_rate.assign(self.rate(self.progress(self._epoch, batch)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
