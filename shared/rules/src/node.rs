//! Both file formats are first read into one positioned tree ([`Node`]): every value and every
//! key carries its line and column. The schema is then checked once, on that tree, by
//! `parse.rs`, so TOML and YAML files get the same checks and the same messages, and every
//! semantic error (an unknown team, contradictory actions) points at the exact key.
//!
//! TOML: `toml::de::DeTable::parse` is the crate's own spanned document tree (byte ranges on
//! every key and value); byte offsets become line and column here. With `preserve_order`
//! the keys keep their order in the file, so the first error reported is the first in it.
//!
//! YAML: `serde-saphyr`. It is maintained, pure Rust (no C-derived `unsafe-libyaml`, which
//! `serde_yaml` — deprecated since 2024 — and its fork `serde_norway` build on), it enforces
//! budgets against alias bombs and deep nesting by default, its errors carry a location, and
//! its `Spanned<T>` gives the line and column of every node, so no scan of the source text is
//! needed to find a key. Booleans are YAML 1.2 ones only (`true`/`false`): under YAML 1.1
//! `language: no` would be the boolean false.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::RulesError;

/// A place in the file: 1-based line and, when known, 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: Option<usize>,
}

impl Pos {
    pub const START: Pos = Pos {
        line: 1,
        column: Some(1),
    };

    /// An error at this place.
    pub fn error(self, message: impl Into<String>) -> RulesError {
        RulesError::new(self.line, self.column, message)
    }
}

/// A value with its place.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// A key of a table (mapping) with its place, and its value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// YAML's null (and an empty value).
    Null,
    /// A value no rule key takes (a float, a date), named for messages ("a float").
    Other(&'static str),
    List(Vec<Node>),
    Map(Vec<Entry>),
}

/// Reads a TOML document.
pub(crate) fn parse_toml(source: &str) -> Result<Node, RulesError> {
    let lines = LineIndex::new(source);
    let doc = toml::de::DeTable::parse(source).map_err(|e| {
        let pos = e.span().map_or(Pos::START, |span| lines.pos(span.start));
        pos.error(one_line(e.message()))
    })?;
    let pos = lines.pos(doc.span().start);
    Ok(toml_table(doc.get_ref(), pos, &lines))
}

fn toml_table(table: &toml::de::DeTable<'_>, pos: Pos, lines: &LineIndex<'_>) -> Node {
    let entries = table
        .iter()
        .map(|(key, value)| Entry {
            key: key.get_ref().to_string(),
            key_pos: lines.pos(key.span().start),
            value: toml_value(value, lines),
        })
        .collect();
    Node {
        pos,
        value: Value::Map(entries),
    }
}

fn toml_value(value: &toml::Spanned<toml::de::DeValue<'_>>, lines: &LineIndex<'_>) -> Node {
    use toml::de::DeValue;
    let pos = lines.pos(value.span().start);
    let value = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Other("an integer out of range"),
        },
        DeValue::Float(_) => Value::Other("a float"),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => Value::Other("a date-time"),
        DeValue::Array(items) => Value::List(items.iter().map(|v| toml_value(v, lines)).collect()),
        DeValue::Table(table) => return toml_table(table, pos, lines),
    };
    Node { pos, value }
}

/// Reads a YAML document; an empty one (or only comments) is null.
pub(crate) fn parse_yaml(source: &str) -> Result<Node, RulesError> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let doc: serde_saphyr::Spanned<YamlValue> =
        serde_saphyr::from_str_with_options(source, options).map_err(|e| {
            let pos = e.location().map_or(Pos::START, |l| yaml_pos(&l));
            pos.error(yaml_message(&e))
        })?;
    Ok(yaml_node(doc))
}

fn yaml_pos(location: &serde_saphyr::Location) -> Pos {
    let line = usize::try_from(location.line())
        .unwrap_or(usize::MAX)
        .max(1);
    let column = usize::try_from(location.column()).ok().filter(|c| *c > 0);
    Pos { line, column }
}

fn yaml_node(spanned: serde_saphyr::Spanned<YamlValue>) -> Node {
    Node {
        pos: yaml_pos(&spanned.referenced),
        value: spanned.value.0,
    }
}

/// The message of a YAML error without its source snippet and without the trailing
/// "at line N, column M" (the error's place is given separately).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = one_line(&e.without_snippet().to_string());
    let text = match text.rfind(" at line ") {
        Some(at) if text[at..].contains("column") => text[..at].to_owned(),
        _ => text,
    };
    text.strip_prefix("error: ")
        .map(str::to_owned)
        .unwrap_or(text)
}

/// A YAML value, read with `Spanned` children so each keeps its place.
struct YamlValue(Value);

impl<'de> Deserialize<'de> for YamlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = YamlValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Str(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Str(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlValue, E> {
        Ok(YamlValue(match i64::try_from(v) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Other("an integer out of range"),
        }))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<YamlValue, E> {
        Ok(YamlValue(match i64::try_from(v) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Other("an integer out of range"),
        }))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<YamlValue, E> {
        Ok(YamlValue(match i64::try_from(v) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Other("an integer out of range"),
        }))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Other("a float")))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Other("binary data")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<YamlValue, D::Error> {
        YamlValue::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<YamlValue, D::Error> {
        YamlValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_saphyr::Spanned<YamlValue>>()? {
            items.push(yaml_node(item));
        }
        Ok(YamlValue(Value::List(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<serde_saphyr::Spanned<YamlKey>>()? {
            let value = map.next_value::<serde_saphyr::Spanned<YamlValue>>()?;
            entries.push(Entry {
                key: key.value.0,
                key_pos: yaml_pos(&key.referenced),
                value: yaml_node(value),
            });
        }
        Ok(YamlValue(Value::Map(entries)))
    }
}

/// A mapping key: any scalar, as text (`1: x` has the key "1").
struct YamlKey(String);

impl<'de> Deserialize<'de> for YamlKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = YamlKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<YamlKey, E> {
                Ok(YamlKey("null".to_owned()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// Collapses a possibly multi-line message into one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Byte offset → line and column.
struct LineIndex<'a> {
    source: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(source: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { source, starts }
    }

    fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.source.len());
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .source
            .get(start..offset)
            .map(|before| before.chars().count() + 1);
        Pos { line, column }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(node: &Node) -> Vec<(String, usize, Option<usize>)> {
        match &node.value {
            Value::Map(entries) => entries
                .iter()
                .map(|e| (e.key.clone(), e.key_pos.line, e.key_pos.column))
                .collect(),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn toml_keys_and_values_carry_their_line_and_column_in_file_order() {
        let node = parse_toml("# c\nzeta = 1\n  alpha = \"ж\"\n").unwrap();
        assert_eq!(
            keys(&node),
            vec![
                ("zeta".to_owned(), 2, Some(1)),
                ("alpha".to_owned(), 3, Some(3))
            ]
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let err = parse_toml("a = \"жжж\" b").unwrap_err();
        assert_eq!((err.line, err.column), (1, Some(11)));
    }

    #[test]
    fn yaml_keys_carry_their_line_and_column() {
        let node = parse_yaml("# c\nzeta: 1\nalpha:\n  - x\n").unwrap();
        assert_eq!(
            keys(&node),
            vec![
                ("zeta".to_owned(), 2, Some(1)),
                ("alpha".to_owned(), 3, Some(1))
            ]
        );
    }

    #[test]
    fn yaml_no_is_a_string_not_a_boolean() {
        let node = parse_yaml("language: no\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("not a map")
        };
        assert!(matches!(&entries[0].value.value, Value::Str(s) if s == "no"));
    }

    #[test]
    fn yaml_errors_lose_their_snippet_but_keep_their_place() {
        let err = parse_yaml("rules:\n  - a: [1, 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(!err.message.contains('\n'), "{}", err.message);
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }
}
