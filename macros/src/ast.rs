//! The syntax of `model!`, kept with its tokens so every error can point at them.
//!
//! ```text
//! model! {
//!     $(#[$attr])* $vis struct $Name {
//!         input: [$dim, ...],            // $dim: an integer or `_`
//!         $Layer $( ( $arg, ... ) )?,    // Keras's layer names
//!         ...
//!     }
//! }
//! model! {                               // the functional form
//!     $(#[$attr])* $vis struct $Name {
//!         input $x: [$dim, ...],         // one or more, each named
//!         let $y = $source $(-> $Layer $( ( $arg, ... ) )?)*;
//!         output $y,                     // one or more
//!     }
//! }
//! $source := $name | $Merge($name, $name, ... $(, $keyword = $value)*)
//!
//! $arg   := $value | $keyword = $value
//! $value := 32 | -1 | 0.25 | 1e-4 | true | relu | "relu" | (3, 3) | [3, 3] | l2(1e-4)
//! ```

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Generics, Ident, Token, Visibility, bracketed, parenthesized};

use kiln_spec::{Arg, Call, Dim, Value};

syn::custom_keyword!(input);
syn::custom_keyword!(output);
syn::custom_keyword!(nested);

/// The whole invocation. The body is parsed on its own so that a mistake inside it still
/// leaves the struct's name for the fallback expansion.
pub struct ModelDecl {
    /// The JSON of each `Model(X)` resolved so far, in the order they are written: a
    /// nested model's companion macro answers `X! { @kiln ... }` with `@nested "json"`
    /// before the tokens it got back.
    pub nested: Vec<String>,
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub generics: Generics,
    pub body: syn::Result<Body>,
}

/// What the braces hold: a Sequential model or a graph.
pub enum Body {
    Sequential(Sequential),
    Functional(Graph),
}

impl Body {
    /// Every layer call, in the order written (a binding's merge before its chain).
    pub fn calls(&self) -> Vec<&LayerCall> {
        match self {
            Body::Sequential(s) => s.layers.iter().collect(),
            Body::Functional(g) => g
                .bindings
                .iter()
                .flat_map(|b| {
                    let merge = match &b.source {
                        Source::Merge(call) => Some(call),
                        Source::Name(..) => None,
                    };
                    merge.into_iter().chain(&b.chain)
                })
                .collect(),
        }
    }
}

/// `input: [...]` and the layers.
pub struct Sequential {
    pub input: InputDecl,
    pub layers: Vec<LayerCall>,
}

/// The functional form's statements, by kind, each kind in the order written.
pub struct Graph {
    pub inputs: Vec<InputDecl>,
    pub bindings: Vec<Binding>,
    pub outputs: Vec<Ident>,
}

/// `let y = source -> Layer -> ...;`, or `let (y, h, c) = ...` for a layer with several
/// outputs (`_` for one not needed).
pub struct Binding {
    /// The names bound, `None` for `_`.
    pub names: Vec<Option<Ident>>,
    /// The tokens of the pattern: `y` or `(y, h, c)`.
    pub pattern: TokenStream,
    pub source: Source,
    pub chain: Vec<LayerCall>,
}

/// Where a binding's chain starts: a name, or a merge of names.
pub enum Source {
    /// A binding or input, with its tokens.
    Name(Ident, TokenStream),
    Merge(LayerCall),
}

/// A name a binding uses, with its tokens.
pub struct Use<'a> {
    pub name: String,
    pub tokens: &'a TokenStream,
}

impl Binding {
    /// The names the binding's source uses: its own, or a merge's positional arguments
    /// that are names (any other positional argument is reported by the check).
    pub fn uses(&self) -> Vec<Use<'_>> {
        match &self.source {
            Source::Name(name, tokens) => vec![Use {
                name: name.to_string(),
                tokens,
            }],
            Source::Merge(call) => call
                .args
                .iter()
                .filter_map(|a| match (&a.keyword, &a.value.value) {
                    (None, Value::Name(name)) => Some(Use {
                        name: name.clone(),
                        tokens: &a.tokens,
                    }),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// `input: [1, 28, 28]`, or `input x: [1, 28, 28]` in the functional form.
pub struct InputDecl {
    pub name: Option<Ident>,
    pub tokens: TokenStream,
    pub dims: Vec<DimTok>,
}

/// One dimension of the input, with its token.
pub struct DimTok {
    pub dim: Dim,
    pub tokens: TokenStream,
}

/// `Conv2D(32, 3, activation = relu)`, `Flatten`, or a model used as a layer:
/// `Model(FeatureExtractor)`.
pub struct LayerCall {
    pub name: Ident,
    /// The path of the model `Model(...)` names.
    pub nested: Option<syn::Path>,
    pub args: Vec<ArgTok>,
    pub tokens: TokenStream,
}

/// One argument with its tokens.
pub struct ArgTok {
    pub keyword: Option<Ident>,
    pub value: ValueTok,
    pub tokens: TokenStream,
}

/// One value with its tokens.
pub struct ValueTok {
    pub value: Value,
    pub tokens: TokenStream,
}

impl LayerCall {
    /// The call as kiln-spec reads it.
    pub fn to_call(&self) -> Call {
        Call {
            name: self.name.to_string(),
            args: self
                .args
                .iter()
                .map(|a| Arg {
                    keyword: a.keyword.as_ref().map(|k| k.to_string()),
                    value: a.value.value.clone(),
                })
                .collect(),
        }
    }
}

impl Parse for ModelDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut nested = Vec::new();
        while input.peek(Token![@]) {
            input.parse::<Token![@]>()?;
            input.parse::<nested>()?;
            nested.push(input.parse::<syn::LitStr>()?.value());
        }
        // Each answer goes before the earlier ones.
        nested.reverse();
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident: Ident = input.parse()?;
        let generics: Generics = input.parse()?;
        let content;
        syn::braced!(content in input);
        // An error inside the braces is kept in `body`, for the fallback expansion.
        let body = whole(&content, Body::parse);
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the model's closing brace"));
        }
        Ok(ModelDecl {
            nested,
            attrs,
            vis,
            ident,
            generics,
            body,
        })
    }
}

impl Parse for Body {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if !input.peek(self::input) {
            return Err(input.error(
                "a model starts with the shape of one input example, e.g. `input: [1, 28, 28],` (or, in the functional form, a named input: `input x: [1, 28, 28],`)",
            ));
        }
        if input.peek2(Ident) {
            return input.parse().map(Body::Functional);
        }
        let input_decl = input.parse::<InputDecl>()?;
        let mut layers = Vec::new();
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        while !input.is_empty() {
            layers.push(input.parse::<LayerCall>()?);
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(Body::Sequential(Sequential {
            input: input_decl,
            layers,
        }))
    }
}

impl Parse for Graph {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut graph = Graph {
            inputs: Vec::new(),
            bindings: Vec::new(),
            outputs: Vec::new(),
        };
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(self::input) {
                graph.inputs.push(input.parse()?);
            } else if lookahead.peek(Token![let]) {
                graph.bindings.push(input.parse()?);
            } else if lookahead.peek(output) {
                input.parse::<output>()?;
                graph.outputs.push(input.parse()?);
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            let lookahead = input.lookahead1();
            if lookahead.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else if lookahead.peek(Token![;]) {
                input.parse::<Token![;]>()?;
            } else {
                return Err(lookahead.error());
            }
        }
        Ok(graph)
    }
}

impl Parse for Binding {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.parse::<Token![let]>()?;
        let begin = input.fork();
        let names = if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            let names = whole(
                &content,
                Punctuated::<BoundName, Token![,]>::parse_terminated,
            )?;
            names.into_iter().map(|n| n.0).collect()
        } else {
            vec![Some(input.parse()?)]
        };
        let pattern = tokens_between(&begin, input);
        input.parse::<Token![=]>()?;
        let source = if input.peek(Ident) && input.peek2(syn::token::Paren) {
            Source::Merge(input.parse()?)
        } else {
            let ident: Ident = input.parse()?;
            let tokens = ident.to_token_stream();
            Source::Name(ident, tokens)
        };
        let mut chain = Vec::new();
        while input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            chain.push(input.parse()?);
        }
        Ok(Binding {
            names,
            pattern,
            source,
            chain,
        })
    }
}

/// A name in a binding's tuple pattern, or `_`.
struct BoundName(Option<Ident>);

impl Parse for BoundName {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![_]) {
            input.parse::<Token![_]>()?;
            Ok(BoundName(None))
        } else {
            input.parse().map(|i| BoundName(Some(i)))
        }
    }
}

impl Parse for InputDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let begin = input.fork();
        input.parse::<self::input>()?;
        let name = if input.peek(Ident) {
            Some(input.parse()?)
        } else {
            None
        };
        input.parse::<Token![:]>()?;
        let content;
        bracketed!(content in input);
        let dims = whole(&content, Punctuated::<DimTok, Token![,]>::parse_terminated)?;
        Ok(InputDecl {
            name,
            tokens: tokens_between(&begin, input),
            dims: dims.into_iter().collect(),
        })
    }
}

impl Parse for DimTok {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(Token![_]) {
            let underscore: Token![_] = input.parse()?;
            Ok(DimTok {
                dim: Dim::Unknown,
                tokens: underscore.into_token_stream(),
            })
        } else if lookahead.peek(syn::LitInt) {
            let lit: syn::LitInt = input.parse()?;
            Ok(DimTok {
                dim: Dim::Known(lit.base10_parse()?),
                tokens: lit.into_token_stream(),
            })
        } else {
            Err(lookahead.error())
        }
    }
}

impl Parse for LayerCall {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let begin = input.fork();
        let name: Ident = input.parse()?;
        if name == "Model" && input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            let (path, args) = whole(&content, |content| {
                let path = syn::Path::parse_mod_style(content)?;
                let args = if content.is_empty() {
                    Vec::new()
                } else {
                    content.parse::<Token![,]>()?;
                    Punctuated::<ArgTok, Token![,]>::parse_terminated(content)?
                        .into_iter()
                        .collect()
                };
                Ok((path, args))
            })?;
            return Ok(LayerCall {
                name,
                nested: Some(path),
                args,
                tokens: tokens_between(&begin, input),
            });
        }
        let args = if input.peek(syn::token::Paren) {
            parse_args(input)?
        } else {
            Vec::new()
        };
        Ok(LayerCall {
            name,
            nested: None,
            args,
            tokens: tokens_between(&begin, input),
        })
    }
}

/// `( $arg, ... )`
fn parse_args(input: ParseStream) -> syn::Result<Vec<ArgTok>> {
    let content;
    parenthesized!(content in input);
    let args = whole(&content, Punctuated::<ArgTok, Token![,]>::parse_terminated)?;
    Ok(args.into_iter().collect())
}

impl Parse for ArgTok {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let begin = input.fork();
        let keyword = if input.peek(Ident) && input.peek2(Token![=]) {
            let k: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            Some(k)
        } else {
            None
        };
        let value: ValueTok = input.parse()?;
        Ok(ArgTok {
            keyword,
            value,
            tokens: tokens_between(&begin, input),
        })
    }
}

impl Parse for ValueTok {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let begin = input.fork();
        let value = parse_value(input)?;
        Ok(ValueTok {
            value,
            tokens: tokens_between(&begin, input),
        })
    }
}

/// One argument value: a number (negated after `-`, or a quotient of numbers, `1./255`,
/// as Python's `/` a float), a bool, a string, a tuple or list, a name or a call.
fn parse_value(input: ParseStream) -> syn::Result<Value> {
    let mut value = parse_term(input)?;
    while input.peek(Token![/]) {
        let slash: Token![/] = input.parse()?;
        let at = input.span();
        let divisor = parse_term(input)?;
        value = match (number(&value), number(&divisor)) {
            (Some(_), Some(0.0)) => {
                return Err(syn::Error::new(at, "division by zero"));
            }
            (Some(n), Some(d)) => Value::Float(n / d),
            _ => {
                return Err(syn::Error::new(
                    slash.span,
                    format!("only numbers divide, as in `1./255`; got `{value} / {divisor}`"),
                ));
            }
        };
    }
    Ok(value)
}

/// A number's value.
fn number(value: &Value) -> Option<f64> {
    match *value {
        Value::Int(n) => Some(n as f64),
        Value::Float(x) => Some(x),
        _ => None,
    }
}

/// One value without a quotient.
fn parse_term(input: ParseStream) -> syn::Result<Value> {
    let lookahead = input.lookahead1();
    if lookahead.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        let at = input.span();
        return match parse_term(input)? {
            Value::Int(n) => Ok(Value::Int(-n)),
            Value::Float(x) => Ok(Value::Float(-x)),
            other => Err(syn::Error::new(
                at,
                format!("expected a number after `-`, got `{other}`"),
            )),
        };
    }
    if lookahead.peek(syn::LitInt) {
        let lit: syn::LitInt = input.parse()?;
        return Ok(Value::Int(lit.base10_parse()?));
    }
    if lookahead.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        return Ok(Value::Float(lit.base10_parse()?));
    }
    if lookahead.peek(syn::LitBool) {
        let lit: syn::LitBool = input.parse()?;
        return Ok(Value::Bool(lit.value));
    }
    if lookahead.peek(syn::LitStr) {
        let lit: syn::LitStr = input.parse()?;
        return Ok(Value::Name(lit.value()));
    }
    if lookahead.peek(syn::token::Paren) || lookahead.peek(syn::token::Bracket) {
        return parse_tuple(input);
    }
    if lookahead.peek(Ident) {
        return parse_name_or_call(input);
    }
    Err(lookahead.error())
}

/// A tuple `(2, 2)` or list `[2, 2]` of values, read from the group `input` starts with.
fn parse_tuple(input: ParseStream) -> syn::Result<Value> {
    let content;
    if input.peek(syn::token::Paren) {
        parenthesized!(content in input);
    } else {
        bracketed!(content in input);
    }
    let items = whole(
        &content,
        Punctuated::<ValueTok, Token![,]>::parse_terminated,
    )?;
    Ok(Value::Tuple(items.into_iter().map(|v| v.value).collect()))
}

/// A name (`relu`) or a call with arguments (`l2(0.01)`), read from the identifier
/// `input` starts with.
fn parse_name_or_call(input: ParseStream) -> syn::Result<Value> {
    let name: Ident = input.parse()?;
    if !input.peek(syn::token::Paren) {
        return Ok(Value::Name(name.to_string()));
    }
    let args = parse_args(input)?;
    Ok(Value::Call(Call {
        name: name.to_string(),
        args: args
            .into_iter()
            .map(|a| Arg {
                keyword: a.keyword.map(|k| k.to_string()),
                value: a.value.value,
            })
            .collect(),
    }))
}

/// Parses the whole of a delimited group with `parse`; after an error the rest of the group
/// is skipped, so syn reports that error rather than the tokens left over.
fn whole<T>(
    content: ParseStream,
    parse: impl FnOnce(ParseStream) -> syn::Result<T>,
) -> syn::Result<T> {
    parse(content).inspect_err(|_| {
        let _ = content.parse::<TokenStream>();
    })
}

/// The tokens `input` consumed since `begin` was forked from it.
fn tokens_between(begin: ParseStream, end: ParseStream) -> TokenStream {
    let mut tokens = TokenStream::new();
    let mut cursor = begin.cursor();
    while cursor != end.cursor() {
        let Some((tt, next)) = cursor.token_tree() else {
            break;
        };
        tokens.extend([tt]);
        cursor = next;
    }
    tokens
}
