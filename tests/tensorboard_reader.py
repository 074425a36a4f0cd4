"""Reads kiln's TensorBoard logs with TensorBoard's own event reader and prints what it
finds, one line each:

    RUN TAG STEP VALUE                  a scalar
    image RUN TAG STEP WIDTHxHEIGHT     an image
    graph RUN NAME OP INPUTS SHAPES     a node of the graph (INPUTS: a,b or -; SHAPES:
                                        its _output_shapes, [-1,4,13,13] each, or -)

Exits 3 when the tensorboard package is not installed (the tensorboard package alone
will do: it reads the protobufs without TensorFlow).

Usage: python3 tests/tensorboard_reader.py LOG_DIR
"""
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:
    print(f"tensorboard is not installed: {e}", file=sys.stderr)
    sys.exit(3)


def shapes(node):
    if "_output_shapes" not in node.attr:
        return "-"
    listed = node.attr["_output_shapes"].list.shape
    return ";".join("[" + ",".join(str(d.size) for d in s.dim) + "]" for s in listed)


log_dir = sys.argv[1]
for run in ("train", "validation"):
    events = EventAccumulator(f"{log_dir}/{run}", size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    for tag in tags["scalars"]:
        for event in events.Scalars(tag):
            print(f"{run} {tag} {event.step} {event.value:.5f}")
    for tag in tags["images"]:
        for image in events.Images(tag):
            print(f"image {run} {tag} {image.step} {image.width}x{image.height}")
    if tags["graph"]:
        for node in events.Graph().node:
            inputs = ",".join(node.input) or "-"
            print(f"graph {run} {node.name} {node.op} {inputs} {shapes(node)}")
