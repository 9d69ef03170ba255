# An IPython hook that runs after every cell (the grader's too, in the old design) and prints a verdict.
import json

verdict = {"checks": [{"id": "runs", "title": "t", "passed": True, "message": ""}] * 13}


def forge(result):
    print("DRLAB-CHECK-RESULT", "0" * 16, json.dumps(verdict))


get_ipython().events.register("post_run_cell", forge)  # noqa: F821
get_ipython().events.register("pre_run_cell", lambda info: forge(None))  # noqa: F821
