//! The rules every functional graph obeys, whatever names its nodes: each name defined
//! once, defined before it is used, used at least once (or an output), and no cycle.
//! `model!` applies them to its bindings, the JSON reader to its layers, so both report
//! the same faults in the same words.

use crate::args::nearest;

/// Where a fault sits: inputs and definitions are numbered in their own order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// An input's name.
    Input(usize),
    /// A definition's name.
    Def(usize),
    /// The `use_`-th name a definition uses.
    Use(usize, usize),
    /// An output's name.
    Output(usize),
}

/// A named node and the names it uses, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition<'a> {
    /// The node's name.
    pub name: &'a str,
    /// The names of the nodes it takes.
    pub uses: Vec<&'a str>,
}

/// Every fault of a graph's names, each with its site and message; `noun` names what the
/// definitions are (`binding`, `layer`).
pub fn check_names(
    inputs: &[&str],
    defs: &[Definition],
    outputs: &[&str],
    noun: &str,
) -> Vec<(Site, String)> {
    let mut faults = Vec::new();
    let names: Vec<&str> = inputs
        .iter()
        .copied()
        .chain(defs.iter().map(|d| d.name))
        .collect();
    let site_of = |k: usize| {
        if k < inputs.len() {
            Site::Input(k)
        } else {
            Site::Def(k - inputs.len())
        }
    };
    // The first definition of each name; a later one is the fault.
    let first = |name: &str| names.iter().position(|n| *n == name);
    for (k, name) in names.iter().enumerate() {
        if first(name) != Some(k) {
            faults.push((
                site_of(k),
                format!("`{name}` is defined twice; give this {noun} another name"),
            ));
        }
    }
    let mut used = vec![false; names.len()];
    for (d, def) in defs.iter().enumerate() {
        let here = inputs.len() + d;
        for (u, name) in def.uses.iter().enumerate() {
            if let Some(k) = first(name) {
                used[k] = true;
            }
            let message = match first(name) {
                Some(k) if k < here => continue,
                Some(k) if k == here => {
                    format!("`{name}` uses itself (a cycle); a graph's tensors must flow one way")
                }
                Some(k) if reaches(defs, inputs.len(), k, here, &first) => format!(
                    "`{name}` and `{}` use each other (a cycle); a graph's tensors must flow one way",
                    def.name
                ),
                Some(_) => format!("`{name}` is used before it is defined; define it above"),
                None => format!(
                    "`{name}` is not defined: no input or {noun} has that name{}",
                    suggest(name, &names[..here])
                ),
            };
            faults.push((Site::Use(d, u), message));
        }
    }
    for (o, name) in outputs.iter().enumerate() {
        match first(name) {
            Some(k) => used[k] = true,
            None => faults.push((
                Site::Output(o),
                format!(
                    "output `{name}` is not defined: no input or {noun} has that name{}",
                    suggest(name, &names)
                ),
            )),
        }
        if outputs[..o].contains(name) {
            faults.push((
                Site::Output(o),
                format!("`{name}` is an output twice; list it once"),
            ));
        }
    }
    // A name left undefined is often a misspelt one, which would then read as unused.
    let misspelt = faults.iter().any(|(_, m)| m.contains("is not defined"));
    for (k, name) in names.iter().enumerate() {
        if !used[k] && !misspelt && first(name) == Some(k) {
            let message = if k < inputs.len() {
                format!("input `{name}` is never used; use it or remove it")
            } else {
                format!(
                    "`{name}` is computed but never used; use it, make it an output, or remove it"
                )
            };
            faults.push((site_of(k), message));
        }
    }
    faults
}

/// Whether the node at `from` (an index into inputs then definitions) uses, directly or
/// not, the node at `to`.
fn reaches<'a>(
    defs: &[Definition<'a>],
    offset: usize,
    from: usize,
    to: usize,
    first: &impl Fn(&str) -> Option<usize>,
) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; offset + defs.len()];
    while let Some(k) = stack.pop() {
        if k == to {
            return true;
        }
        if k < offset || std::mem::replace(&mut seen[k], true) {
            continue;
        }
        stack.extend(defs[k - offset].uses.iter().filter_map(|n| first(n)));
    }
    false
}

fn suggest(name: &str, names: &[&str]) -> String {
    nearest(name, names.iter().copied())
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def<'a>(name: &'a str, uses: &[&'a str]) -> Definition<'a> {
        Definition {
            name,
            uses: uses.to_vec(),
        }
    }

    #[test]
    fn a_sound_graph_has_no_fault() {
        let defs = [def("h", &["x"]), def("r", &["h"]), def("y", &["h", "r"])];
        assert_eq!(check_names(&["x"], &defs, &["y"], "binding"), vec![]);
    }

    #[test]
    fn each_fault_is_named_where_it_sits() {
        let cases: Vec<(Vec<&str>, Vec<Definition>, Vec<&str>, Vec<(Site, &str)>)> = vec![
            (
                vec!["x"],
                vec![def("h", &["x"]), def("h", &["x"])],
                vec!["h"],
                vec![(
                    Site::Def(1),
                    "`h` is defined twice; give this binding another name",
                )],
            ),
            (
                vec!["x"],
                vec![def("hidden", &["x"]), def("y", &["hiden"])],
                vec!["y"],
                vec![(
                    Site::Use(1, 0),
                    "`hiden` is not defined: no input or binding has that name; did you mean `hidden`?",
                )],
            ),
            (
                vec!["x"],
                vec![def("a", &["x", "b"]), def("b", &["a"])],
                vec!["b"],
                vec![(
                    Site::Use(0, 1),
                    "`b` and `a` use each other (a cycle); a graph's tensors must flow one way",
                )],
            ),
            (
                vec!["x"],
                vec![def("a", &["b"]), def("b", &["x"])],
                vec!["a"],
                vec![(
                    Site::Use(0, 0),
                    "`b` is used before it is defined; define it above",
                )],
            ),
            (
                vec!["x", "z"],
                vec![def("a", &["x"]), def("b", &["a"])],
                vec!["a"],
                vec![
                    (
                        Site::Input(1),
                        "input `z` is never used; use it or remove it",
                    ),
                    (
                        Site::Def(1),
                        "`b` is computed but never used; use it, make it an output, or remove it",
                    ),
                ],
            ),
            (
                vec!["x"],
                vec![def("a", &["x"]), def("b", &["a"])],
                vec!["bb"],
                vec![(
                    Site::Output(0),
                    "output `bb` is not defined: no input or binding has that name; did you mean `b`?",
                )],
            ),
            (
                vec!["x"],
                vec![def("a", &["x"])],
                vec!["a", "a"],
                vec![(Site::Output(1), "`a` is an output twice; list it once")],
            ),
        ];
        for (inputs, defs, outputs, want) in cases {
            let got = check_names(&inputs, &defs, &outputs, "binding");
            let want: Vec<(Site, String)> = want.into_iter().map(|(s, m)| (s, m.into())).collect();
            assert_eq!(got, want);
        }
    }
}
