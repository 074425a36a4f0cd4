//! The `model!` macro: a network declared in Keras's words, every tensor shape worked out
//! at compile time, expanded into an ordinary burn module. Use it through the `kiln` crate.
//!
//! Phases, one file each: `ast` parses, `check` applies kiln-spec's rules and maps
//! their errors onto the user's tokens (`ctxt` collects them), `expand` generates the
//! module with one file of `layers` per layer kind.
//!
//! A model used as a layer (`Model(X)`) is read before any check: the expansion is a call
//! of X's companion macro (every model defines one, named like it), which calls `model!`
//! back with X's declaration as `@nested "json"` before the original tokens.

#![cfg_attr(
    not(test),
    deny(clippy::too_many_lines, clippy::unwrap_used, clippy::expect_used)
)]

mod ast;
mod check;
mod ctxt;
mod expand;
mod layers;

use proc_macro::TokenStream;

/// Declares a model. See the `kiln` crate's documentation.
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    let tokens = proc_macro2::TokenStream::from(input.clone());
    let decl = syn::parse_macro_input!(input as ast::ModelDecl);
    expand::model(decl, tokens).into()
}
