//! TensorBoard's HParams dashboard: each execution of each trial is a session, its
//! hyperparameters written when it starts and its status when it ends, beside the
//! TensorBoard callback's scalars; TensorBoard builds the table and the parallel
//! coordinates from them, as it does for KerasTuner's `hp.HParams` callback.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_core::callbacks::tensorboard::{now, proto, write_summaries};
use prost::Message;

use crate::value::{Value, Values};

/// The HParams plugin's own messages (`tensorboard/plugins/hparams/plugin_data.proto`),
/// the parts kiln writes.
mod messages {
    use std::collections::BTreeMap;

    /// `HParamsPluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        /// The format's version: 0.
        #[prost(int32, tag = "1")]
        pub version: i32,
        /// A session's start or end.
        #[prost(oneof = "Data", tags = "3, 4")]
        pub data: Option<Data>,
    }

    /// `HParamsPluginData.data`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        /// `session_start_info`.
        #[prost(message, tag = "3")]
        Start(SessionStartInfo),
        /// `session_end_info`.
        #[prost(message, tag = "4")]
        End(SessionEndInfo),
    }

    /// `SessionStartInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionStartInfo {
        /// The hyperparameters' values.
        #[prost(btree_map = "string, message", tag = "1")]
        pub hparams: BTreeMap<String, ProtoValue>,
        /// The sessions of one trial form a group.
        #[prost(string, tag = "4")]
        pub group_name: String,
        /// When it started.
        #[prost(double, tag = "5")]
        pub start_time_secs: f64,
    }

    /// `SessionEndInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionEndInfo {
        /// `STATUS_SUCCESS` = 1, `STATUS_FAILURE` = 2.
        #[prost(int32, tag = "1")]
        pub status: i32,
        /// When it ended.
        #[prost(double, tag = "2")]
        pub end_time_secs: f64,
    }

    /// `google.protobuf.Value`: a number, a string or a boolean.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ProtoValue {
        /// The value.
        #[prost(oneof = "Kind", tags = "2, 3, 4")]
        pub kind: Option<Kind>,
    }

    /// `google.protobuf.Value.kind`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// `number_value`.
        #[prost(double, tag = "2")]
        Number(f64),
        /// `string_value`.
        #[prost(string, tag = "3")]
        Text(String),
        /// `bool_value`.
        #[prost(bool, tag = "4")]
        Flag(bool),
    }
}

use messages::{Data, Kind, PluginData, ProtoValue, SessionEndInfo, SessionStartInfo};

/// Writes a session's start into `dir`: its hyperparameters, grouped by `trial`.
pub(crate) fn start(dir: &Path, trial: &str, values: &Values) -> std::io::Result<()> {
    let hparams: BTreeMap<String, ProtoValue> = values
        .iter()
        .map(|(name, value)| {
            let kind = match value {
                Value::Bool(b) => Kind::Flag(*b),
                Value::Str(s) => Kind::Text(s.clone()),
                other => Kind::Number(other.as_f64().unwrap_or(f64::NAN)),
            };
            (name.to_string(), ProtoValue { kind: Some(kind) })
        })
        .collect();
    let info = SessionStartInfo {
        hparams,
        group_name: trial.to_string(),
        start_time_secs: now(),
    };
    write(dir, "session_start_info", Data::Start(info))
}

/// Writes a session's end into `dir`: a success, or a failure.
pub(crate) fn end(dir: &Path, succeeded: bool) -> std::io::Result<()> {
    let info = SessionEndInfo {
        status: if succeeded { 1 } else { 2 },
        end_time_secs: now(),
    };
    write(dir, "session_end_info", Data::End(info))
}

/// One HParams summary, `_hparams_/<what>`, in an events file of its own.
fn write(dir: &Path, what: &str, data: Data) -> std::io::Result<()> {
    let content = PluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    let value = proto::Value {
        tag: format!("_hparams_/{what}"),
        metadata: Some(proto::SummaryMetadata {
            plugin_data: Some(proto::PluginData {
                plugin_name: "hparams".into(),
                content,
            }),
        }),
        // The plugin's NULL_TENSOR: an empty float tensor.
        value: Some(proto::Kind::Tensor(proto::TensorProto {
            dtype: 1,
            tensor_shape: Some(proto::TensorShapeProto {
                dim: vec![proto::Dim { size: 0 }],
            }),
            string_val: Vec::new(),
        })),
    };
    write_summaries(dir, &format!(".hparams_{what}"), vec![value])
}
