"""A stand-in task function whose worker process dies on one image, as a segfault would."""

import os
import signal

from pipelines.batch import run_task


def crash_on_bad_file(task, settings):
    if "crash" in task.item.file:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_task(task, settings)
