"""Runs `python -m <module> ...` from models/training the way the training tests need it: one
OpenMP thread (two tests may run beside a training run), output captured, a non-zero exit
turned into an AssertionError carrying the end of stdout and stderr."""
import os
import subprocess
import sys

TRAINING = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module: str, *args: str) -> str:
    """-> the module's stdout; raises AssertionError unless it exits 0."""
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-m', module, *args], cwd=TRAINING, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f'{module} {" ".join(args)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}')
    return r.stdout
