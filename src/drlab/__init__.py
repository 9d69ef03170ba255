"""drlab — the hands-on companion to the course *Apprentissage profond par renforcement (Deep RL)*.

The package follows the lecture's table of contents:

- :mod:`drlab.linreg` — §2–4: gradient descent ("descente de gradient") on 1-D linear regression,
  in NumPy then PyTorch step by step, and the dynamic computation graphs drawn with torchviz
  (:mod:`drlab.linreg.graph`);
- :mod:`drlab.data` — IDX files, verified Fashion-MNIST download, digits, fast in-memory batches;
- :mod:`drlab.models` / :mod:`drlab.train` — TP1: the classifiers and the trainer;
- :mod:`drlab.rl` — tabular Q-learning, then DQN;
- :mod:`drlab.check` — the TP1 notebook checker;
- :mod:`drlab.common` — what the wings share: seeding, safe checkpoint I/O, device choice.

Importing ``drlab`` is cheap: torch and matplotlib are imported by the submodules that need them.
"""

__version__ = "0.1.0"
