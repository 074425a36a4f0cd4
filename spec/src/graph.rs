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
    /// A definition as a whole.
    Def(usize),
    /// The `name`-th name a definition gives (most give one).
    Name(usize, usize),
    /// The `use_`-th name a definition uses.
    Use(usize, usize),
    /// An output's name.
    Output(usize),
}

/// A node, the names it gives (one, or several for a layer with several outputs) and
/// the names it uses, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition<'a> {
    /// The names of the node's outputs.
    pub names: Vec<&'a str>,
    /// Names of more outputs, which may go unused (a recurrent layer's states, read from
    /// JSON).
    pub spare: Vec<&'a str>,
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
    let names = Names::new(inputs, defs, noun);
    let mut faults = names.twice();
    let mut used = vec![false; names.given.len()];
    names.uses(&mut used, &mut faults);
    names.outputs(outputs, &mut used, &mut faults);
    // A name left undefined is often a misspelt one, which would then read as unused.
    if !faults.iter().any(|(_, m)| m.contains("is not defined")) {
        names.unused(&used, &mut faults);
    }
    faults
}

/// A graph's names with where each is given: inputs first, then each definition's.
struct Names<'g, 'a> {
    given: Vec<(&'a str, Site)>,
    defs: &'g [Definition<'a>],
    noun: &'g str,
}

impl<'g, 'a> Names<'g, 'a> {
    fn new(inputs: &[&'a str], defs: &'g [Definition<'a>], noun: &'g str) -> Self {
        let given = inputs
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, Site::Input(i)))
            .chain(defs.iter().enumerate().flat_map(|(d, def)| {
                def.names
                    .iter()
                    .chain(&def.spare)
                    .enumerate()
                    .map(move |(j, n)| (*n, Site::Name(d, j)))
            }))
            .collect();
        Names { given, defs, noun }
    }

    /// The first place `name` is given; a later one is the fault.
    fn first(&self, name: &str) -> Option<usize> {
        self.given.iter().position(|(n, _)| *n == name)
    }

    /// The definition that gives the name at `k`, if not an input.
    fn def_of(&self, k: usize) -> Option<usize> {
        match self.given[k].1 {
            Site::Name(d, _) => Some(d),
            _ => None,
        }
    }

    fn names(&self) -> Vec<&'a str> {
        self.given.iter().map(|(n, _)| *n).collect()
    }

    /// A name given a second time.
    fn twice(&self) -> Vec<(Site, String)> {
        let noun = self.noun;
        self.given
            .iter()
            .enumerate()
            .filter(|(k, (name, _))| self.first(name) != Some(*k))
            .map(|(_, (name, site))| {
                let message = format!("`{name}` is defined twice; give this {noun} another name");
                (*site, message)
            })
            .collect()
    }

    /// Each use of a name not defined above it (or in a cycle), marking those it finds.
    fn uses(&self, used: &mut [bool], faults: &mut Vec<(Site, String)>) {
        for (d, def) in self.defs.iter().enumerate() {
            for (u, name) in def.uses.iter().enumerate() {
                if let Some(k) = self.first(name) {
                    used[k] = true;
                }
                if let Some(message) = self.use_fault(d, name) {
                    faults.push((Site::Use(d, u), message));
                }
            }
        }
    }

    /// What is wrong with definition `d` using `name`, if anything.
    fn use_fault(&self, d: usize, name: &str) -> Option<String> {
        let def = &self.defs[d];
        Some(match self.first(name).map(|k| (k, self.def_of(k))) {
            Some((_, None)) => return None,
            Some((_, Some(e))) if e < d => return None,
            Some((_, Some(e))) if e == d => {
                format!("`{name}` uses itself (a cycle); a graph's tensors must flow one way")
            }
            Some((_, Some(e))) if self.reaches(e, d) => format!(
                "`{name}` and `{}` use each other (a cycle); a graph's tensors must flow one way",
                def.names.first().copied().unwrap_or_default()
            ),
            Some(_) => format!("`{name}` is used before it is defined; define it above"),
            None => {
                let before: Vec<&str> = self
                    .given
                    .iter()
                    .filter(|(_, site)| match site {
                        Site::Name(e, _) => *e < d,
                        _ => true,
                    })
                    .map(|(n, _)| *n)
                    .collect();
                format!(
                    "`{name}` is not defined: no input or {} has that name{}",
                    self.noun,
                    suggest(name, &before)
                )
            }
        })
    }

    /// Outputs not defined, or listed twice, marking those it finds.
    fn outputs(&self, outputs: &[&str], used: &mut [bool], faults: &mut Vec<(Site, String)>) {
        for (o, name) in outputs.iter().enumerate() {
            match self.first(name) {
                Some(k) => used[k] = true,
                None => faults.push((
                    Site::Output(o),
                    format!(
                        "output `{name}` is not defined: no input or {} has that name{}",
                        self.noun,
                        suggest(name, &self.names())
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
    }

    /// The names given (and not spare) that nothing uses; a definition's own names count
    /// as used when one of its spare ones (a recurrent layer's states) is.
    fn unused(&self, used: &[bool], faults: &mut Vec<(Site, String)>) {
        let spare = |site: Site| match site {
            Site::Name(d, j) => j >= self.defs[d].names.len(),
            _ => false,
        };
        let spare_used = |d: usize| {
            self.given.iter().zip(used).any(|((_, site), &used)| {
                used && spare(*site) && matches!(site, Site::Name(e, _) if *e == d)
            })
        };
        let through_spare = |site: Site| matches!(site, Site::Name(d, _) if spare_used(d));
        for (k, (name, site)) in self.given.iter().enumerate() {
            if !used[k] && !spare(*site) && !through_spare(*site) && self.first(name) == Some(k) {
                let message = match site {
                    Site::Input(_) => format!("input `{name}` is never used; use it or remove it"),
                    _ => format!(
                        "`{name}` is computed but never used; use it, make it an output, or remove it"
                    ),
                };
                faults.push((*site, message));
            }
        }
    }

    /// Whether definition `from` uses, directly or not, definition `to`.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut stack = vec![from];
        let mut seen = vec![false; self.defs.len()];
        while let Some(d) = stack.pop() {
            if d == to {
                return true;
            }
            if std::mem::replace(&mut seen[d], true) {
                continue;
            }
            stack.extend(
                self.defs[d]
                    .uses
                    .iter()
                    .filter_map(|n| self.first(n).and_then(|k| self.def_of(k))),
            );
        }
        false
    }
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
            names: vec![name],
            spare: vec![],
            uses: uses.to_vec(),
        }
    }

    #[test]
    fn a_sound_graph_has_no_fault() {
        let defs = [def("h", &["x"]), def("r", &["h"]), def("y", &["h", "r"])];
        assert_eq!(check_names(&["x"], &defs, &["y"], "binding"), vec![]);
    }

    /// Inputs, bindings and outputs, and the faults expected where they sit.
    type Case<'a> = (
        Vec<&'a str>,
        Vec<Definition<'a>>,
        Vec<&'a str>,
        Vec<(Site, &'a str)>,
    );

    #[test]
    fn each_fault_is_named_where_it_sits() {
        let cases: Vec<Case> = vec![
            (
                vec!["x"],
                vec![def("h", &["x"]), def("h", &["x"])],
                vec!["h"],
                vec![(
                    Site::Name(1, 0),
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
                        Site::Name(1, 0),
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
                vec![
                    Definition {
                        names: vec!["y", "h", "c"],
                        spare: vec![],
                        uses: vec!["x"],
                    },
                    def("z", &["h"]),
                ],
                vec!["y", "z"],
                vec![(
                    Site::Name(0, 2),
                    "`c` is computed but never used; use it, make it an output, or remove it",
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
