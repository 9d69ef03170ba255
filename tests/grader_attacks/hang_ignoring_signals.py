# Ignores every interrupt and never ends.
import signal

for sig in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGALRM, signal.SIGTERM})
while True:
    pass
