"""How long Ray Tune waits for a finished trial's thread before a reused worker takes the next trial.

A reused worker (``tune.driver.reuse_actors``) ends the finished trial's training thread (Ray
raises ``SystemExit`` inside ``tune.report``) and waits ``TUNE_FUNCTION_THREAD_TIMEOUT_S``
seconds for it, two by default. If the thread is still unwinding then, Ray gives up and marks the
*next* trial as errored, though nothing is wrong with it. Unwinding a Keras ``fit`` (its
callbacks, the input pipeline's threads) can take longer than that on busy cores, so a trial
worker waits longer, unless the user has set the variable.
"""

from __future__ import annotations

import inspect
import os

from tune.adapters import probe

THREAD_TIMEOUT_VARIABLE = "TUNE_FUNCTION_THREAD_TIMEOUT_S"
# Long enough for any unwind; a thread that never ends still fails the next trial, only later.
THREAD_TIMEOUT_SECONDS = 120


def wait_for_finished_trials() -> None:
    """In a trial worker: let Ray wait for a finished trial's thread before reusing the worker."""
    os.environ.setdefault(THREAD_TIMEOUT_VARIABLE, str(THREAD_TIMEOUT_SECONDS))


def missing() -> list[str]:
    from ray.tune.trainable.function_trainable import FunctionTrainable

    return probe("FunctionTrainable", {
        f"reset_config reads {THREAD_TIMEOUT_VARIABLE}":
            lambda: THREAD_TIMEOUT_VARIABLE in inspect.getsource(FunctionTrainable.reset_config),
    })
