//! Each layer kind's burn module, built with Keras's initializers, and its forward where
//! burn-nn has none that matches Keras. One file per layer kind; `model!`'s generated code
//! and the runtime model read from JSON both build their layers here.

mod batch_normalization;
mod conv;
mod dense;
mod dropout;
mod embedding;
mod merge;
mod pooling;
mod recurrent;
mod reshape;

pub use batch_normalization::{batch_norm, batch_normalization};
pub use conv::{conv1d, conv2d, convolve1d};
pub use dense::dense;
pub use dropout::{dropout, dropout_step};
pub use embedding::{embed, embedding};
pub use merge::{Merge, merge};
pub use pooling::{average_pooling2d, global_average_pooling2d, max_pooling1d, max_pooling2d};
pub use recurrent::{
    Recurrent, gru, lstm, recurrent_last, recurrent_sequence, recurrent_with_states, simple_rnn,
};
pub use reshape::{flatten, reshape};
