//! YAML as a tree of nodes that know where they are (byte spans of their
//! file), for diagnostics that point at the offending key or value.
//!
//! Built on yaml-rust2's event parser rather than a ready-made tree: its
//! `Yaml` type drops positions, and `marked-yaml` (which keeps them) refuses
//! anchors, which compose files use all the time (`x-common: &common` and
//! `<<: *common`). Anchors, aliases and merge keys are resolved here.

use std::collections::HashMap;
use std::ops::Range;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML value and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// Index of the file in the load's file list.
    pub file: usize,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar as written; `plain` when unquoted (so `null`, `true`,
    /// numbers are what they look like).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in order, with their own positions.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: Value, file: usize, span: Range<usize>) -> Node {
        Node { value, file, span }
    }

    /// The scalar's text (also for numbers and booleans).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// An unquoted `null`, `~` or nothing.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// What kind of value it is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error: message and byte offset.
#[derive(Debug)]
pub struct SyntaxError {
    pub message: String,
    pub at: usize,
}

/// Parse one YAML document of `text` (file number `file`).
pub fn parse(text: &str, file: usize) -> Result<Node, SyntaxError> {
    let mut b = Builder {
        offsets: char_offsets(text),
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, false).map_err(|e| SyntaxError {
        message: e.info().to_string(),
        at: b.byte(e.marker()),
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root
        .unwrap_or_else(|| Node::new(Value::Map(Vec::new()), file, 0..0)))
}

/// Byte offsets of the characters of `text` (yaml-rust2 counts chars).
fn char_offsets(text: &str) -> Vec<usize> {
    let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    v.push(text.len());
    v
}

/// A collection being built: its node so far, its anchor, where it began.
struct Open {
    node: Node,
    anchor: usize,
    /// A mapping's key waiting for its value.
    key: Option<Node>,
}

struct Builder {
    offsets: Vec<usize>,
    file: usize,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn byte(&self, m: &Marker) -> usize {
        self.offsets
            .get(m.index())
            .copied()
            .unwrap_or(*self.offsets.last().unwrap_or(&0))
    }

    /// A finished node goes into its parent (or is the document).
    fn add(&mut self, node: Node) {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        match &mut top.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match top.key.take() {
                None => top.key = Some(node),
                Some(k)
                    if k.as_str() == Some("<<")
                        && matches!(k.value, Value::Scalar { plain: true, .. }) =>
                {
                    // A merge key: the entries of the mapping (or of each
                    // mapping of a list) that the map does not have itself.
                    let sources: Vec<Node> = match node.value {
                        Value::Seq(s) => s,
                        _ => vec![node],
                    };
                    for s in sources {
                        match s.value {
                            Value::Map(m) => {
                                for (k, v) in m {
                                    if !entries.iter().any(|(e, _)| e.as_str() == k.as_str()) {
                                        entries.push((k, v));
                                    }
                                }
                            }
                            _ => {
                                self.error.get_or_insert(SyntaxError {
                                    message:
                                        "a merge key (<<) takes a mapping or a list of mappings"
                                            .into(),
                                    at: s.span.start,
                                });
                            }
                        }
                    }
                }
                Some(k) => {
                    // A later key replaces an earlier one (the merged
                    // entries first, then the map's own).
                    entries.retain(|(e, _)| e.as_str() != k.as_str() || k.as_str().is_none());
                    entries.push((k, node));
                }
            },
            Value::Scalar { .. } => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = self.byte(&mark);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let len = text.len();
                // A quoted scalar's mark is its opening quote.
                let quoted = matches!(
                    style,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                );
                let at = at + usize::from(quoted);
                let node = Node::new(
                    Value::Scalar {
                        text,
                        plain: style == TScalarStyle::Plain,
                    },
                    self.file,
                    at..at + len.max(1),
                );
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.add(node);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open {
                node: Node::new(Value::Seq(Vec::new()), self.file, at..at + 1),
                anchor,
                key: None,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Open {
                node: Node::new(Value::Map(Vec::new()), self.file, at..at + 1),
                anchor,
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(mut open) = self.stack.pop() {
                    open.node.span.end = at.max(open.node.span.start + 1);
                    if open.anchor > 0 {
                        self.anchors.insert(open.anchor, open.node.clone());
                    }
                    self.add(open.node);
                }
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(n) => n.clone(),
                    None => {
                        self.error.get_or_insert(SyntaxError {
                            message: "an alias to an unknown anchor".into(),
                            at,
                        });
                        Node::new(
                            Value::Scalar {
                                text: String::new(),
                                plain: true,
                            },
                            self.file,
                            at..at + 1,
                        )
                    }
                };
                self.add(node);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_anchors_and_merge_keys() {
        let text = "x-base: &base\n  image: busybox\n  user: nobody\nservices:\n  web:\n    <<: *base\n    user: root\n    ports: ['80:80']\n";
        let n = parse(text, 0).unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("busybox"));
        assert_eq!(web.get("user").unwrap().as_str(), Some("root"));
        let ports = web.get("ports").unwrap();
        let p = &ports.as_seq().unwrap()[0];
        assert_eq!(&text[p.span.start..p.span.start + 5], "80:80");
        let e = parse("a: [1, 2\nb: c\n", 0).unwrap_err();
        assert!(e.at > 0, "{e:?}");
    }
}
