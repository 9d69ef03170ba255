# Prints hundreds of megabytes into the grader.
import os

block = b"x" * (1 << 20)
for _ in range(300):
    os.write(1, block)
