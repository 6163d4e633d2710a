"""Where the course lives online, named once: the README's links and the notebooks' setup cell are made from it."""

REPOSITORY = "mnist-tutorial/mnist-tutorial"  # owner/name on GitHub: change it here, then run the two tools below
BRANCH = "main"
# What a hosted notebook installs (python tools/setup_cell.py writes it into every notebook's setup cell);
# a learner or teacher can point it elsewhere with $MNIST_TUTORIAL_INSTALL.
INSTALL_SOURCE = f"git+https://github.com/{REPOSITORY}@{BRANCH}"
INSTALL_ENV = "MNIST_TUTORIAL_INSTALL"
