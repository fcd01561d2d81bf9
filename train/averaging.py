"""Weight averaging (an exponential moving average of the weights, "Polyak averaging").

With `ema > 0` the optimizer keeps a moving average of every trainable weight
(`use_ema`, momentum `ema`), and the averaged weights are the ones validated, checkpointed
as the best epoch and saved: they sit in a flatter spot than the last step's weights and
usually generalise a little better on a small dataset.

Keras' `SwapEMAWeights` swaps the averages in for validation. For the checkpoint the
averages are swapped in at the end of each epoch and out again before `BackupAndRestore`
writes its state, so the backup always holds raw weights in the model and averages in the
optimizer, whatever the moment a run is killed, and `--resume` continues the same average.

Off in the edge recipe: on dfdc-faces under the 10-minute CPU budget, momentum 0.99
gave Validation / Test AUC 0.708 / 0.737 where the recipe's runs on the same seed gave
0.733-0.755 / 0.754-0.765 (benchmarks/results/quality.md, x21), probably because BatchNorm's moving statistics
follow the raw weights, and a short run at a high learning rate leaves the average far
behind them.
"""
from __future__ import annotations

import keras


def optimizer_options(ema: float) -> dict:
    """Keyword arguments for a Keras optimizer: EMA on at momentum `ema`, or nothing when 0."""
    return {"use_ema": True, "ema_momentum": float(ema)} if ema else {}


class _Swapper(keras.callbacks.SwapEMAWeights):
    """Validation sees the averaged weights; `swap()` exchanges model weights and averages."""

    def swap(self) -> None:
        self._swap_variables()


class _SwapAtEpochEnd(keras.callbacks.Callback):
    def __init__(self, swapper: _Swapper):
        super().__init__()
        self.swapper = swapper

    def on_epoch_end(self, epoch, logs=None):
        self.swapper.swap()


def callbacks(ema: float) -> tuple[list, list]:
    """(before_checkpoint, before_backup): callbacks to place around the checkpoint callbacks.

    The first list goes before ModelCheckpoint (it validates with and swaps in the
    averages), the second right before BackupAndRestore (it swaps them out again). Both
    are empty when `ema` is 0.
    """
    if not ema:
        return [], []
    swapper = _Swapper(swap_on_epoch=False)
    return [swapper, _SwapAtEpochEnd(swapper)], [_SwapAtEpochEnd(swapper)]
