"""Reads kiln's TensorBoard logs with TensorBoard's own event reader and prints every
scalar as `run tag step value`. Exits 3 when the tensorboard package is not installed.

Usage: python3 tests/tensorboard_reader.py LOG_DIR
"""
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:
    print(f"tensorboard is not installed: {e}", file=sys.stderr)
    sys.exit(3)

log_dir = sys.argv[1]
for run in ("train", "validation"):
    events = EventAccumulator(f"{log_dir}/{run}", size_guidance={"scalars": 0})
    events.Reload()
    for tag in events.Tags()["scalars"]:
        for event in events.Scalars(tag):
            print(f"{run} {tag} {event.step} {event.value:.5f}")
