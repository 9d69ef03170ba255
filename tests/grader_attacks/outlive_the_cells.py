# atexit, threads that outlive the cell, sys.settrace, and monkey-patching torch: all after the cells.
import atexit
import os
import sys
import threading
import time

import torch
from torch import nn


def pipes():
    """Every pipe this process holds, besides stdin/stdout/stderr (the grader's data channel among them)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                found.append(int(name))
        except OSError:
            pass
    return found


def forge(data):
    for fd in pipes():
        try:
            os.write(fd, data)
        except OSError:
            pass


atexit.register(lambda: forge(b"DRLAB-FRAME done 2 0\n{}"))


def meddle():
    while True:
        torch.manual_seed(0)
        time.sleep(0.01)


threading.Thread(target=meddle, daemon=True).start()
threading.Thread(target=lambda: (time.sleep(3), forge(b"garbage\n" * 100)), daemon=True).start()


def tracer(frame, event, arg):
    if event == "return" and isinstance(arg, float):
        frame.f_locals["returned"] = 0.625
    return tracer


sys.settrace(tracer)
threading.settrace(tracer)
torch.allclose = lambda *args, **kwargs: True
torch.Tensor.argmax = lambda self, *args, **kwargs: torch.zeros(len(self), dtype=torch.long)
nn.Module.train = lambda self, mode=True: self
nn.Module.eval = lambda self: self
