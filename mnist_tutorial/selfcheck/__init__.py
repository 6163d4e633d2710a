"""Self-checks for the notebooks' exercises: each prints a verdict or a hint, never a traceback.

One module per lesson notebook (`from mnist_tutorial.selfcheck import model as check`); `verdict` is the
only way they speak, so every check reads the same to a learner.
"""
