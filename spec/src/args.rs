//! Layer arguments as written (`Conv2D(32, 3, activation = relu)`), and the checks that
//! turn them into a layer's typed configuration.
//!
//! The macro parses Rust tokens into a [`Call`]; each layer's `from_call` reads it through
//! [`Args`], which reports every problem with the index of the argument at fault so the
//! macro can put the error on that argument's span.

use std::fmt;

/// A value written as a layer argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer literal, sign included: `32`, `-1`.
    Int(i64),
    /// A float literal: `0.25`, `1e-4`.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A bare name or a string: `relu`, `"same"`.
    Name(String),
    /// A tuple or array: `(3, 3)`, `[2, 2]`.
    Tuple(Vec<Value>),
    /// A call: `l2(1e-4)`, `l1_l2(l1 = 0.01, l2 = 0.01)`.
    Call(Call),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Name(s) => f.write_str(s),
            Value::Tuple(items) => {
                f.write_str("(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Value::Call(call) => write!(f, "{call}"),
        }
    }
}

/// One argument: positional (`32`) or keyword (`activation = relu`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The keyword, for a keyword argument.
    pub keyword: Option<String>,
    /// The value.
    pub value: Value,
}

/// A layer (or regularizer) with its arguments: `Dense(128, activation = relu)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The name before the parentheses.
    pub name: String,
    /// The arguments, in the order written.
    pub args: Vec<Arg>,
}

impl Call {
    /// A call with no arguments (`Flatten`).
    pub fn bare(name: impl Into<String>) -> Self {
        Call {
            name: name.into(),
            args: Vec::new(),
        }
    }

    /// The same call with one more positional argument.
    pub fn arg(mut self, value: impl Into<Value>) -> Self {
        self.args.push(Arg {
            keyword: None,
            value: value.into(),
        });
        self
    }

    /// The same call with one more keyword argument.
    pub fn kw(mut self, keyword: impl Into<String>, value: impl Into<Value>) -> Self {
        self.args.push(Arg {
            keyword: Some(keyword.into()),
            value: value.into(),
        });
        self
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from($v: $t) -> Self {
                $e
            }
        }
    )*};
}

value_from! {
    i64 => |v| Value::Int(v),
    i32 => |v| Value::Int(v.into()),
    usize => |v| Value::Int(v as i64),
    f64 => |v| Value::Float(v),
    bool => |v| Value::Bool(v),
    &str => |v| Value::Name(v.to_string()),
    Call => |v| Value::Call(v),
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if let Some(k) = &arg.keyword {
                write!(f, "{k} = ")?;
            }
            write!(f, "{}", arg.value)?;
        }
        f.write_str(")")
    }
}

/// Where an argument error belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The layer as a whole (a missing argument).
    Layer,
    /// The layer's name (an unknown layer).
    Name,
    /// The whole argument `i` (a repeated or unknown keyword, a surplus positional).
    Arg(usize),
    /// The value of argument `i` (a value of the wrong kind or out of range).
    Value(usize),
}

/// An argument that does not fit its layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ArgError {
    /// What the error is about.
    pub at: At,
    /// The message, in the house style (lowercase, no period, with the fix).
    pub message: String,
}

impl ArgError {
    pub(crate) fn new(at: At, message: impl Into<String>) -> Self {
        ArgError {
            at,
            message: message.into(),
        }
    }
}

/// The closest of `candidates` to `name`, when close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name_lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&name_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// `did you mean `x`?` when a name is close to one of the valid ones, else the list of them.
pub(crate) fn suggestion(name: &str, valid: &[&str]) -> String {
    match nearest(name, valid.iter().copied()) {
        Some(n) => format!("did you mean `{n}`?"),
        None => format!("expected one of: {}", valid.join(", ")),
    }
}

/// One parameter a layer takes.
#[derive(Clone, Copy)]
pub(crate) struct Param {
    pub name: &'static str,
    /// Taken by position when written without a keyword.
    pub positional: bool,
    /// Shown when the argument is missing: what it means and an example.
    pub help: &'static str,
}

impl Param {
    pub const fn positional(name: &'static str, help: &'static str) -> Self {
        Param {
            name,
            positional: true,
            help,
        }
    }

    /// A parameter given by keyword only, which the layer needs.
    pub const fn required_keyword(name: &'static str, help: &'static str) -> Self {
        Param {
            name,
            positional: false,
            help,
        }
    }

    pub const fn keyword(name: &'static str) -> Self {
        Param {
            name,
            positional: false,
            help: "",
        }
    }
}

/// Matches a call's arguments to a layer's parameters and converts their values,
/// collecting every error.
pub(crate) struct Args<'a> {
    layer: &'a str,
    call: &'a Call,
    params: &'a [Param],
    /// For each parameter, the index of the argument that gives it.
    given: Vec<Option<usize>>,
    errors: Vec<ArgError>,
}

impl<'a> Args<'a> {
    pub fn new(layer: &'a str, call: &'a Call, params: &'a [Param]) -> Self {
        let mut args = Args {
            layer,
            call,
            params,
            given: vec![None; params.len()],
            errors: Vec::new(),
        };
        args.match_params();
        args
    }

    fn match_params(&mut self) {
        let positional: Vec<usize> = (0..self.params.len())
            .filter(|&i| self.params[i].positional)
            .collect();
        let mut next_positional = 0;
        let mut seen_keyword = false;
        for (i, arg) in self.call.args.iter().enumerate() {
            let slot = match &arg.keyword {
                None => {
                    if seen_keyword {
                        self.errors.push(ArgError::new(
                            At::Arg(i),
                            format!(
                                "positional argument after a keyword argument in {}; \
                                 write positional arguments first or name this one",
                                self.layer
                            ),
                        ));
                    }
                    // Taken by the next positional parameter not given yet, so the order
                    // error is the only one reported.
                    while positional
                        .get(next_positional)
                        .is_some_and(|&slot| seen_keyword && self.given[slot].is_some())
                    {
                        next_positional += 1;
                    }
                    let Some(&slot) = positional.get(next_positional) else {
                        self.errors
                            .push(ArgError::new(At::Arg(i), self.surplus_message()));
                        continue;
                    };
                    next_positional += 1;
                    slot
                }
                Some(keyword) => {
                    seen_keyword = true;
                    let Some(slot) = self.params.iter().position(|p| p.name == keyword) else {
                        let message = self.unknown_message(keyword);
                        self.errors.push(ArgError::new(At::Arg(i), message));
                        continue;
                    };
                    slot
                }
            };
            if self.given[slot].is_some() {
                self.errors.push(ArgError::new(
                    At::Arg(i),
                    format!(
                        "`{}` is given twice to {}; remove one",
                        self.params[slot].name, self.layer
                    ),
                ));
            } else {
                self.given[slot] = Some(i);
            }
        }
    }

    /// The error for keyword `keyword`, which the layer does not take.
    fn unknown_message(&self, keyword: &str) -> String {
        let names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
        if names.is_empty() {
            format!("{} takes no arguments, got `{keyword}`", self.layer)
        } else {
            format!(
                "unknown argument `{keyword}` for {}; {}",
                self.layer,
                suggestion(keyword, &names)
            )
        }
    }

    fn surplus_message(&self) -> String {
        let names: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.positional)
            .map(|p| p.name)
            .collect();
        match names.len() {
            0 => format!("{} takes no positional arguments", self.layer),
            1 => format!(
                "{} takes 1 positional argument ({}); name the others, e.g. `activation = relu`",
                self.layer, names[0]
            ),
            n => format!(
                "{} takes {n} positional arguments ({}); name the others",
                self.layer,
                names.join(", ")
            ),
        }
    }

    fn slot(&self, name: &str) -> usize {
        // Every caller names one of its own parameters; a wrong name is a bug in this
        // crate, caught by the unit tests of that layer.
        self.params
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("{} has no parameter `{name}`", self.layer))
    }

    /// The converted value of parameter `name`, if given; a conversion error is recorded
    /// on the value.
    pub fn get<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let index = self.given[self.slot(name)]?;
        match convert(&self.call.args[index].value) {
            Ok(v) => Some(v),
            Err(why) => {
                self.errors.push(ArgError::new(
                    At::Value(index),
                    format!("`{name}` of {}: {why}", self.layer),
                ));
                None
            }
        }
    }

    /// Like [`Args::get`], with `default` when the argument is not written.
    pub fn or<T>(
        &mut self,
        name: &str,
        default: T,
        convert: impl FnOnce(&Value) -> Result<T, String>,
    ) -> T {
        // After a bad value (recorded as an error) the default only lets checking go on.
        self.get(name, convert).unwrap_or(default)
    }

    /// A parameter the layer cannot do without; its absence is recorded on the layer.
    pub fn required<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let slot = self.slot(name);
        if self.given[slot].is_none() {
            self.errors.push(ArgError::new(
                At::Layer,
                format!(
                    "{} needs `{name}` ({}); add it",
                    self.layer, self.params[slot].help
                ),
            ));
            return None;
        }
        self.get(name, convert)
    }

    /// Records an error about the value of parameter `name` found by a rule that looks at
    /// several arguments together.
    pub fn error_on(&mut self, name: &str, message: String) {
        let at = self.given[self.slot(name)].map_or(At::Layer, At::Value);
        self.errors.push(ArgError::new(at, message));
    }

    /// The layer built by `build` when no error was found, else every error.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Vec<ArgError>> {
        match (self.errors.is_empty(), build()) {
            (true, Some(t)) => Ok(t),
            _ => Err(self.errors),
        }
    }
}

/// A positive integer: `32`, at most [`MAX_SIZE`](crate::MAX_SIZE).
pub(crate) fn positive_int(v: &Value) -> Result<usize, String> {
    match v {
        Value::Int(n) if *n > 0 => size(*n),
        Value::Int(n) => Err(format!("expected a positive integer, got {n}")),
        other => Err(format!("expected a positive integer, got `{other}`")),
    }
}

/// `n` (not negative) as a size, refused above [`MAX_SIZE`](crate::MAX_SIZE).
pub(crate) fn size(n: i64) -> Result<usize, String> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= crate::MAX_SIZE)
        .ok_or_else(|| {
            format!(
                "{n} is larger than kiln's largest size, {}",
                crate::MAX_SIZE
            )
        })
}

/// One positive integer for every spatial dimension: `3` (the same for each) or `(3, 5)`.
pub(crate) fn sizes<const N: usize>(v: &Value) -> Result<[usize; N], String> {
    match v {
        Value::Int(_) => Ok([positive_int(v)?; N]),
        Value::Tuple(items) if items.len() == N => {
            let mut out = [0; N];
            for (o, item) in out.iter_mut().zip(items) {
                *o = positive_int(item)?;
            }
            Ok(out)
        }
        other => Err(format!(
            "expected a positive integer or a tuple of {N}, got `{other}`"
        )),
    }
}

/// A number, integer or float: `0.5`, `1`.
pub(crate) fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(x) => Ok(*x),
        Value::Int(n) => Ok(*n as f64),
        other => Err(format!("expected a number, got `{other}`")),
    }
}

/// A finite number.
pub(crate) fn finite(v: &Value) -> Result<f64, String> {
    match number(v)? {
        x if x.is_finite() => Ok(x),
        x => Err(format!("expected a finite number, got {x}")),
    }
}

/// A finite number, 0 or more.
pub(crate) fn non_negative(v: &Value) -> Result<f64, String> {
    match finite(v)? {
        x if x >= 0.0 => Ok(x),
        x => Err(format!("expected a number of 0 or more, got {x:?}")),
    }
}

/// A dropout's rate: a number in `[0, 1)`.
pub(crate) fn rate(v: &Value) -> Result<f64, String> {
    match number(v)? {
        rate if (0.0..1.0).contains(&rate) => Ok(rate),
        rate => Err(format!("the rate must be in [0, 1), got {rate:?}")),
    }
}

/// A normalization's epsilon: a positive number.
pub(crate) fn epsilon(v: &Value) -> Result<f64, String> {
    let e = number(v)?;
    if e > 0.0 {
        Ok(e)
    } else {
        Err(format!("epsilon must be positive, got {e:?}"))
    }
}

/// `true` or `false`.
pub(crate) fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("expected `true` or `false`, got `{other}`")),
    }
}

/// One of a fixed set of names, returned as an index into `names`.
pub(crate) fn one_of(v: &Value, names: &[&str]) -> Result<usize, String> {
    match v {
        Value::Name(n) => names
            .iter()
            .position(|c| c == n)
            .ok_or_else(|| format!("unknown value `{n}`; {}", suggestion(n, names))),
        other => Err(format!(
            "expected one of {}, got `{other}`",
            names.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_ignores_strangers() {
        let names = ["activation", "use_bias", "strides", "padding"];
        let cases = [
            ("activaton", Some("activation")),
            ("stride", Some("strides")),
            ("Padding", Some("padding")),
            ("momentum", None),
        ];
        for (name, want) in cases {
            assert_eq!(nearest(name, names), want, "{name}");
        }
    }

    fn call(args: Vec<Arg>) -> Call {
        Call {
            name: "Test".into(),
            args,
        }
    }

    fn pos(v: Value) -> Arg {
        Arg {
            keyword: None,
            value: v,
        }
    }

    fn kw(k: &str, v: Value) -> Arg {
        Arg {
            keyword: Some(k.into()),
            value: v,
        }
    }

    const PARAMS: &[Param] = &[
        Param::positional("units", "the number of outputs, e.g. Test(10)"),
        Param::keyword("use_bias"),
    ];

    fn errors(c: &Call) -> Vec<ArgError> {
        let mut a = Args::new("Test", c, PARAMS);
        let _ = a.required("units", positive_int);
        let _ = a.or("use_bias", true, boolean);
        a.finish(|| Some(())).unwrap_err()
    }

    #[test]
    fn every_argument_error_is_reported_where_it_belongs() {
        let cases: Vec<(Call, Vec<(At, &str)>)> = vec![
            (
                call(vec![]),
                vec![(
                    At::Layer,
                    "Test needs `units` (the number of outputs, e.g. Test(10)); add it",
                )],
            ),
            (
                call(vec![pos(Value::Int(3)), pos(Value::Int(4))]),
                vec![(
                    At::Arg(1),
                    "Test takes 1 positional argument (units); name the others, e.g. `activation = relu`",
                )],
            ),
            (
                call(vec![pos(Value::Int(3)), kw("use_bais", Value::Bool(true))]),
                vec![(
                    At::Arg(1),
                    "unknown argument `use_bais` for Test; did you mean `use_bias`?",
                )],
            ),
            (
                call(vec![pos(Value::Int(3)), kw("units", Value::Int(4))]),
                vec![(At::Arg(1), "`units` is given twice to Test; remove one")],
            ),
            (
                call(vec![kw("use_bias", Value::Bool(true)), pos(Value::Int(4))]),
                vec![(
                    At::Arg(1),
                    "positional argument after a keyword argument in Test; write positional arguments first or name this one",
                )],
            ),
            (
                call(vec![pos(Value::Int(-2)), kw("use_bias", Value::Int(1))]),
                vec![
                    (
                        At::Value(0),
                        "`units` of Test: expected a positive integer, got -2",
                    ),
                    (
                        At::Value(1),
                        "`use_bias` of Test: expected `true` or `false`, got `1`",
                    ),
                ],
            ),
        ];
        for (c, want) in cases {
            let got: Vec<(At, String)> =
                errors(&c).into_iter().map(|e| (e.at, e.message)).collect();
            let want: Vec<(At, String)> =
                want.into_iter().map(|(a, m)| (a, m.to_string())).collect();
            assert_eq!(got, want, "{c}");
        }
    }

    #[test]
    fn sizes_accept_one_number_or_a_tuple() {
        assert_eq!(sizes::<2>(&Value::Int(3)), Ok([3, 3]));
        assert_eq!(
            sizes::<2>(&Value::Tuple(vec![Value::Int(3), Value::Int(5)])),
            Ok([3, 5])
        );
        assert_eq!(
            sizes::<2>(&Value::Tuple(vec![Value::Int(3)])),
            Err("expected a positive integer or a tuple of 2, got `(3)`".to_string())
        );
    }
}
