"""The workshop room: one JupyterHub on this machine, each student signed in to a space of their own (issue 29).

Needs the `room` extra (JupyterHub) and configurable-http-proxy on PATH; `import mnist_tutorial.room` loads neither.
"""

from .start import Room, RoomError, clean, start

__all__ = ["Room", "RoomError", "clean", "start"]
