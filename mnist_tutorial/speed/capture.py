"""Recording work once and replaying it: with CUDA graphs on a GPU, or directly (a stand-in the CPU can test)."""

import contextlib
from collections.abc import Callable, Iterator

import torch


class Capture:
    """Stand-in for CUDA graphs: "capturing" keeps the work, and each "replay" runs it directly."""

    def warm_up(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def __call__(self, work: Callable[[], None]) -> Callable[[], None]:
        return work


class CudaGraphCapture(Capture):
    """Records work into a torch.cuda.CUDAGraph (without running it); the returned function replays it."""

    def __init__(self) -> None:
        self.stream = torch.cuda.Stream()
        self.graphs: list[torch.cuda.CUDAGraph] = []  # kept alive: a graph owns its memory pool

    @contextlib.contextmanager
    def warm_up(self) -> Iterator[None]:
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            yield
        torch.cuda.current_stream().wait_stream(self.stream)

    def __call__(self, work: Callable[[], None]) -> Callable[[], None]:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            work()
        self.graphs.append(graph)
        return graph.replay
