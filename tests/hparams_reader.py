"""Reads a tuner's TensorBoard logs with TensorBoard's own HParams plugin (the code behind
its HParams dashboard) and prints what the dashboard would show, one line each:

    hparam NAME TYPE                    a column of the table (TYPE: DATA_TYPE_FLOAT64, ...)
    metric GROUP TAG                    a metric column (GROUP: train or validation)
    session GROUP STATUS NAME=VALUE ... a row: a trial's session, its status and values
    value GROUP GROUP/TAG VALUE         the session group's last value of a metric

Exits 3 when the tensorboard package is not installed.

Usage: python3 tests/hparams_reader.py LOG_DIR
"""
import sys

try:
    from tensorboard import context as tb_context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment
    from tensorboard.plugins.hparams import list_session_groups
except ImportError as e:
    print(f"tensorboard is not installed: {e}", file=sys.stderr)
    sys.exit(3)

log_dir = sys.argv[1]
multiplexer = plugin_event_multiplexer.EventMultiplexer()
multiplexer.AddRunsFromDirectory(log_dir)
multiplexer.Reload()
provider = data_provider.MultiplexerDataProvider(multiplexer, log_dir)
context = backend_context.Context(
    base_plugin.TBContext(logdir=log_dir, multiplexer=multiplexer, data_provider=provider)
)
ctx = tb_context.RequestContext()

experiment = get_experiment.Handler(
    ctx, context, "", api_pb2.GetExperimentRequest()
).run()
for info in experiment.hparam_infos:
    print(f"hparam {info.name} {api_pb2.DataType.Name(info.type)}")
for info in experiment.metric_infos:
    print(f"metric {info.name.group} {info.name.tag}")

request = api_pb2.ListSessionGroupsRequest(
    start_index=0, slice_size=1000, allowed_statuses=[api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING, api_pb2.STATUS_UNKNOWN]
)
for info in experiment.hparam_infos:
    request.col_params.add(hparam=info.name)
for info in experiment.metric_infos:
    request.col_params.add(metric=info.name)
groups = list_session_groups.Handler(ctx, context, "", request).run()
for group in groups.session_groups:
    for session in group.sessions:
        values = " ".join(
            f"{name}={value.WhichOneof('kind') and getattr(value, value.WhichOneof('kind'))}"
            for name, value in sorted(group.hparams.items())
        )
        print(f"session {group.name} {api_pb2.Status.Name(session.status)} {values}")
    for metric in group.metric_values:
        print(f"value {group.name} {metric.name.group}/{metric.name.tag} {metric.value:.5f}")
