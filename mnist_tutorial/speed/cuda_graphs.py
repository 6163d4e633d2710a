"""The lesson's training step at the GPU's own pace: captured once in a CUDA graph, then replayed.

Why: at batch 64 a step is some 40 tiny kernels, each launched from Python; the GPU finishes each one
sooner than Python can launch the next, so it waits. A CUDA graph records the kernels of a step (or of
many steps) once; a replay then launches them all with one call.

How `GraphedTraining` keeps the lesson's numbers exactly:
- The step is the lesson's own (`train.training_step`), reading its batch from static buffers that every
  replay refills: a graph reads the same memory each time, never a new tensor.
- The first `warmup_steps` full batches train eagerly on a side stream, as CUDA graphs require: SGD's momentum
  buffers must exist before capture. Capturing records without running, so weights and optimizer state are
  untouched. SGD needs no `capturable=True` (no step counter); its lr and momentum are baked into the graph,
  so a change of either (or another model or optimizer) means a new capture.
- `steps_per_graph` steps are recorded as one graph: 1 is a graph per step; `len(loader) - 1` is one graph
  per epoch. Batches that do not fill a whole replay (the last, partial batch; the leftovers) run eagerly.
- Each batch's loss is copied into a static tensor and read after each replay (one wait per replay), to
  print the running loss and feed `on_batch` (the divergence check) exactly as the lesson's loop does.
Same kernels in the same order on the same data: the same weights as eager training on that GPU, bit for bit
(`tests/test_cuda_graphs.py` checks it on a GPU). The optional `compiler` (e.g. torch.compile) fuses the
forward and backward kernels; that variant may differ from eager in the last bits.

The capture mechanism is injectable: `Capture` (the default off CUDA) runs the recorded work directly, so
the CPU runs, and tests, the very same static-buffer code path. Opt-in (`fit(train_epoch=GraphedTraining())`,
`mnist-tutorial train --cuda-graphs`) until `benchmarks/gpu_check.sh` has shown on a GPU that it keeps eager's
weights bit for bit; then it can become the default on CUDA with the fast loader.
"""

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..defaults import LOG_EVERY
from ..errors import ConfigError
from ..train import LossLog, training_step
from .capture import Capture, CudaGraphCapture

WARMUP_STEPS = 3  # eager steps before capture, as PyTorch's CUDA-graph notes do


class GraphedTraining:
    """A drop-in for train_one_epoch (same arguments, same result) that replays the step from CUDA graphs.

    Keep one instance for a whole run: the graph is captured once and replayed every epoch.
    """

    def __init__(
        self,
        *,
        steps_per_graph: int = 1,
        warmup_steps: int = WARMUP_STEPS,
        capture: Capture | None = None,
        compiler: Callable[[Callable], Callable] | None = None,
    ) -> None:
        if steps_per_graph < 1 or warmup_steps < 1:
            raise ConfigError("`steps_per_graph` and `warmup_steps` must be at least 1 (momentum is made eagerly)")
        self.steps_per_graph, self.warmup_steps = steps_per_graph, warmup_steps
        self.capture, self.compiler = capture, compiler
        self.key: tuple | None = None
        self.captures = 0  # how many graphs were recorded (tests and benchmarks read it)

    def __call__(
        self,
        model: nn.Module,
        train_loader: Iterable,
        optimizer: torch.optim.Optimizer,
        criterion: nn.Module,
        *,
        epoch: int = 1,
        device: str | torch.device = "cpu",
        log_every: int = LOG_EVERY,
        log: Callable[[str], None] = print,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> float:
        """One pass over the training data; returns the epoch's mean loss, as train_one_epoch does."""
        model.train()
        losses = LossLog(epoch=epoch, log_every=log_every, log=log, on_batch=on_batch)
        self.pending = 0  # batches waiting in the static buffers for the next replay
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            self._prepare(model, optimizer, criterion, inputs, labels)
            if inputs.shape != self.inputs.shape[1:] or labels.shape != self.labels.shape[1:]:
                self._flush(losses)  # a batch of another size (the last one): eagerly, after those waiting
                losses.add(self._eager(inputs, labels).item())
            elif self.warmups_left:
                with self.recorder.warm_up():
                    losses.add(self._eager(inputs, labels).item())
                self.warmups_left -= 1
            else:
                self._queue(inputs, labels, losses)
        self._flush(losses)
        return losses.mean()

    def _prepare(self, model, optimizer, criterion, inputs, labels) -> None:
        """(Re)start from scratch when the model, optimizer, criterion or their settings change."""
        settings = tuple((group["lr"], group.get("momentum")) for group in optimizer.param_groups)
        key = (id(model), id(optimizer), id(criterion), settings, inputs.device)
        if key == self.key:
            return
        self.key, self.model, self.optimizer, self.criterion = key, model, optimizer, criterion
        self.recorder = self.capture or (CudaGraphCapture() if inputs.device.type == "cuda" else Capture())
        size = self.steps_per_graph
        self.inputs = torch.empty((size, *inputs.shape), dtype=inputs.dtype, device=inputs.device)
        self.labels = torch.empty((size, *labels.shape), dtype=labels.dtype, device=labels.device)
        self.losses = torch.zeros(size, device=inputs.device)
        self.forward_model = self.compiler(model) if self.compiler else model
        self.replay, self.graph_grads, self.warmups_left = None, None, self.warmup_steps

    def _step(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The lesson's step on a full batch, through the compiled model's forward pass if one was asked for."""
        return training_step(self.forward_model, self.optimizer, self.criterion, inputs, labels)

    def _recorded_steps(self) -> None:
        """What a graph holds: one step per slot of the static buffers, each loss kept in its slot."""
        for slot in range(self.steps_per_graph):
            self.losses[slot].copy_(self._step(self.inputs[slot], self.labels[slot]).detach())

    def _eager(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if inputs.shape == self.inputs.shape[1:]:
            loss = self._step(inputs, labels)
        else:  # a compiled forward pass would compile again for this one size
            loss = training_step(self.model, self.optimizer, self.criterion, inputs, labels)
        if self.graph_grads is not None:  # point .grad back at the memory the graph writes
            for parameter, grad in zip(self.model.parameters(), self.graph_grads, strict=True):
                parameter.grad = grad
        return loss

    def _queue(self, inputs: torch.Tensor, labels: torch.Tensor, losses: LossLog) -> None:
        if self.replay is None:
            self.replay = self.recorder(self._recorded_steps)
            self.graph_grads = [parameter.grad for parameter in self.model.parameters()]
            self.captures += 1
        self.inputs[self.pending].copy_(inputs)
        self.labels[self.pending].copy_(labels)
        self.pending += 1
        if self.pending == self.steps_per_graph:
            self.replay()
            self.pending = 0
            for loss in self.losses.tolist():
                losses.add(loss)

    def _flush(self, losses: LossLog) -> None:
        """Train eagerly on the batches waiting in the buffers (too few to fill a replay)."""
        for slot in range(self.pending):
            losses.add(self._eager(self.inputs[slot], self.labels[slot]).item())
        self.pending = 0


def graph_per_epoch(train_loader) -> GraphedTraining:
    """GraphedTraining with one graph for all of an epoch's batches but the last (run eagerly, full or not)."""
    return GraphedTraining(steps_per_graph=max(1, len(train_loader) - 1))
