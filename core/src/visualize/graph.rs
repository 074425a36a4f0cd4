//! The model as an SVG graph: a box per input and layer (name, class, output shape,
//! parameters), an arrow per connection, drawn top to bottom by depth.

use std::collections::HashMap;
use std::fmt::Write;

use kiln_spec::Checked;

const BOX_W: usize = 210;
const BOX_H: usize = 58;
const GAP_X: usize = 24;
const GAP_Y: usize = 30;

/// `<`, `>`, `&` and quotes escaped for HTML and SVG.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Each node (inputs first, then layers) with the nodes it takes.
fn nodes(checked: &Checked) -> Vec<(String, Vec<String>)> {
    let mut nodes: Vec<(String, Vec<String>)> = checked
        .inputs
        .iter()
        .map(|i| (i.name.clone(), Vec::new()))
        .collect();
    for (i, layer) in checked.layers.iter().enumerate() {
        let inbound = if layer.inbound.is_empty() {
            // Sequential: the layer before, or the input.
            let before = match i {
                0 => checked.inputs.first().map(|i| i.name.clone()),
                _ => Some(checked.layers[i - 1].name.clone()),
            };
            before.into_iter().collect()
        } else {
            // `lstm[1]` is a state of `lstm`.
            let node = |n: &String| n.split('[').next().unwrap_or(n).to_owned();
            layer.inbound.iter().map(node).collect()
        };
        nodes.push((layer.name.clone(), inbound));
    }
    nodes
}

/// Where each node sits: its column and row (its depth, the longest path from an input),
/// and how many nodes each row holds.
struct Places<'n> {
    place: HashMap<&'n str, (usize, usize)>,
    columns: Vec<usize>,
}

impl<'n> Places<'n> {
    /// Nodes come in an order where each follows those it takes.
    fn new(nodes: &'n [(String, Vec<String>)]) -> Self {
        let mut places = Places {
            place: HashMap::new(),
            columns: Vec::new(),
        };
        for (name, inbound) in nodes {
            let depth = inbound
                .iter()
                .filter_map(|n| places.place.get(n.as_str()))
                .map(|&(_, row)| row + 1)
                .max()
                .unwrap_or(0);
            if places.columns.len() <= depth {
                places.columns.resize(depth + 1, 0);
            }
            places.place.insert(name, (places.columns[depth], depth));
            places.columns[depth] += 1;
        }
        places
    }

    fn wide(&self) -> usize {
        self.columns.iter().copied().max().unwrap_or(1)
    }

    /// The top-left corner of `name`'s box, each row centred.
    fn at(&self, name: &str) -> Option<(usize, usize)> {
        let &(col, row) = self.place.get(name)?;
        let offset = (self.wide() - self.columns[row]) * (BOX_W + GAP_X) / 2;
        Some((
            GAP_X + offset + col * (BOX_W + GAP_X),
            GAP_Y + row * (BOX_H + GAP_Y),
        ))
    }
}

/// The SVG of `checked`'s graph; each layer's box is a `g.node` whose `data-layer` is its
/// name, each input's a `g.input`.
pub(crate) fn svg(checked: &Checked) -> String {
    let nodes = nodes(checked);
    let places = Places::new(&nodes);
    let width = places.wide() * (BOX_W + GAP_X) + GAP_X;
    let height = places.columns.len() * (BOX_H + GAP_Y) + GAP_Y;
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#667"/></marker></defs>"##
    );
    for (name, inbound) in &nodes {
        for from in inbound {
            if let (Some((fx, fy)), Some((x, y))) = (places.at(from), places.at(name)) {
                let _ = write!(
                    out,
                    r##"<line class="edge" data-from="{}" data-to="{}" x1="{}" y1="{}" x2="{}" y2="{y}" stroke="#667" marker-end="url(#arrow)"/>"##,
                    escape(from),
                    escape(name),
                    fx + BOX_W / 2,
                    fy + BOX_H,
                    x + BOX_W / 2,
                );
            }
        }
    }
    let inputs = checked.inputs.iter().map(|i| {
        let lines = [i.name.clone(), format!("Input {}", i.shape)];
        ("input", &i.name, lines)
    });
    let layers = checked.layers.iter().map(|l| {
        let lines = [
            format!("{} · {}", l.name, l.class_name),
            format!("{} · {} params", l.output, l.counted().total()),
        ];
        ("node", &l.name, lines)
    });
    for (class, name, lines) in inputs.chain(layers) {
        if let Some((x, y)) = places.at(name) {
            out.push_str(&node_box(class, name, x, y, &lines));
        }
    }
    out.push_str("</svg>");
    out
}

fn node_box(class: &str, name: &str, x: usize, y: usize, lines: &[String; 2]) -> String {
    format!(
        r#"<g class="{class}" data-layer="{}" transform="translate({x},{y})"><rect width="{BOX_W}" height="{BOX_H}" rx="6"/><text x="10" y="23">{}</text><text x="10" y="44" class="detail">{}</text></g>"#,
        escape(name),
        escape(&lines[0]),
        escape(&lines[1])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_spec::{Call, Layer, ModelSpec, NamedLayer, NamedShape, Shape};

    #[test]
    fn a_branching_model_draws_a_box_per_layer_and_an_arrow_per_connection() {
        let node = |name: &str, call: Call, inbound: &[&str]| NamedLayer {
            name: name.into(),
            layer: Layer::from_call(&call).unwrap(),
            inbound: inbound.iter().map(|s| s.to_string()).collect(),
            trainable: true,
            training: true,
        };
        let spec = ModelSpec {
            name: "Two".into(),
            inputs: vec![NamedShape {
                name: "x".into(),
                shape: Shape::known([4]),
            }],
            layers: vec![
                node("a", Call::bare("Dense").arg(3), &["x"]),
                node("b", Call::bare("Dense").arg(3), &["x"]),
                node("sum", Call::bare("Add"), &["a", "b"]),
            ],
            outputs: vec!["sum".into()],
        };
        let svg = svg(&spec.check().unwrap());
        assert_eq!(svg.matches(r#"<g class="node""#).count(), 3);
        assert_eq!(svg.matches(r#"<g class="input""#).count(), 1);
        assert_eq!(svg.matches("<line").count(), 4);
        assert!(svg.contains(r#"data-from="a" data-to="sum""#));
        assert!(svg.contains("sum · Add"));
    }
}
