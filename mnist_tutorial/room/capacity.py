"""How many students this machine holds, from its memory, and the sentence a student beyond that reads."""

import dataclasses

# The hub, its proxy and the teacher's page together: 130 + 57 + 80 MB measured (docs/room.md), rounded up. The page
# grows by PyTorch (about 0.5 GB) once it reads a model.pt: that comes out of the students' headroom (1.5 GB each
# where 1.11 GB was measured), not out of this.
ROOM_OWN_GB = 0.3


@dataclasses.dataclass(frozen=True)
class Capacity:
    """The most students' servers the room runs at once, and what the machine's memory alone would hold."""

    students: int
    by_memory: int
    available_gb: float
    per_student_gb: float

    def line(self) -> str:
        """The announcement's sentence: how many students, from what, and a word when the teacher chose otherwise."""
        said = (
            f"This machine holds {self.students} students: {self.available_gb:.1f} GB of memory available, "
            f"{self.per_student_gb:g} GB per student"
        )
        if self.students < self.by_memory:
            said += f" (--students {self.students}; its memory would hold {self.by_memory})"
        elif self.students > self.by_memory:
            said += (
                f". --students {self.students} is more than its memory holds ({self.by_memory}): "
                "students' kernels may be killed for want of memory"
            )
        return said + ". One more student is asked to wait for a free seat."


def capacity(available_bytes: int, per_student_gb: float, students: int | None = None) -> Capacity:
    """The room's capacity with `available_bytes` of memory free; `students` asks for another number of seats."""
    available_mb = available_bytes // 10**6  # whole megabytes: 2.3 - 0.3 GB hold 2 students, not 1.9999 of them
    by_memory = max(0, (available_mb - round(ROOM_OWN_GB * 1000)) // round(per_student_gb * 1000))
    return Capacity(students or by_memory, by_memory, available_bytes / 1e9, per_student_gb)


def full(seats: int) -> str:
    """What a student reads when every seat is taken."""
    return (
        f"The room is full: this machine holds {seats} students and all {seats} seats are taken. "
        "Please ask your teacher, who can free a seat; then sign in again."
    )


def refusal(is_admin: bool, others_working: int, seats: int) -> str | None:
    """Why a student's server may not start (None: it may); the teacher, JupyterHub's admin, is never refused."""
    if is_admin or others_working < seats:
        return None
    return full(seats)
