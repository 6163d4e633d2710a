"""The pre-flight (notebook 00, `mnist-tutorial doctor`): every check the course needs, one ok or fix line each."""

from .report import doctor

__all__ = ["doctor"]
