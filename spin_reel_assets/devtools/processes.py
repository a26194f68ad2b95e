"""Stopping a child process the way every tool here does: SIGTERM, then SIGKILL after a grace period."""

import signal
import subprocess


def stop_process(process: subprocess.Popen, grace_seconds: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
