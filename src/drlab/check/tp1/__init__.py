"""The checks of TP1 (``notebooks/03_tp1_fashion_mnist.ipynb``), decided in the grader's own process.

The notebook runs in a sandbox (:mod:`drlab.check.sandbox`); there, :mod:`drlab.check.harvest` calls the
student's code on inputs chosen here and sends back data only. Every verdict is computed here, from
data held against the reference and labels that never enter the sandbox — never from what the sandbox
*says* happened (its spies' records only choose a hint for a check that already failed). A check whose
data did not come back fails: the score is always out of the same 14.

Read it as a teacher reads the notebook:

- :mod:`.contract`: what the notebook defines, where, and the bars it meets;
- :mod:`.request`: what the grader sends (probes and their data, drawn from ``--seed``) and keeps (labels);
- :mod:`.reference`: the lecture's four steps, the accuracy, the cross-entropy, and their classic mistakes;
- :mod:`.evidence`: what came back, read without trusting it, and the context the checks share;
- one module per part of the notebook, with its checks: :mod:`.runs` (the notebook runs), :mod:`.net`
  (TODO 1), :mod:`.train` (TODO 2), :mod:`.evaluate` (TODO 3), :mod:`.loss` (TODO 4), :mod:`.model`
  (the training cell);
- :mod:`.checks`: the checks in report order, and :func:`decide` with its root-cause chaining.

Every title and hint is a key of the message catalogue (:mod:`drlab.check.messages`), in English and
French (the course's vocabulary); the report speaks the notebook's language.

What this cannot tell: who computed the data. The student's cells share the sandbox's process with
the harvester, so a notebook can send frames itself; it passes a check only with the data a right
computation gives, but the checks of ``Net()``'s output and size are those data themselves, and the
model's logits may come from any classifier (``tests/test_check_forgery.py`` measures the ceilings).
"""

from drlab.check.messages import Lang
from drlab.check.report import CheckResult
from drlab.check.tp1.checks import CHECK_IDS, CHECKS, Check, decide, titles
from drlab.check.tp1.evidence import Context, Failed, Harvest
from drlab.check.tp1.request import Request, build_request

__all__ = [
    "CHECKS", "CHECK_IDS", "Check", "CheckResult", "Context", "Failed", "Harvest", "Lang", "Request",
    "build_request", "decide", "titles",
]  # fmt: skip
