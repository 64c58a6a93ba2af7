//! Writing YAML (workload and compact cluster files): block style, collections that fit on a line in flow
//! style, and strings quoted whenever a plain scalar could be read back as anything else.
//!
//! A string is written plain only when it is made of letters, digits and `._/-`, starts with a letter or a
//! digit, is not a word some YAML reader takes for a boolean, a null or a special float, and, when it starts
//! with a digit, is a Kubernetes quantity with a suffix (`500m`, `1.5Gi`), which no YAML schema reads as a
//! number. Every other string is double-quoted, with every character outside printable ASCII and the
//! printable non-breaking range escaped, so that it reads back unchanged.

use std::fmt::Write as _;

/// A YAML value to write.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Yaml {
    /// A scalar written as it is: a number or a boolean, never a string.
    Plain(String),
    /// A string, quoted when a plain scalar would not read back as the same string.
    Str(String),
    /// A mapping, in the order given.
    Map(Vec<(String, Yaml)>),
    /// A sequence.
    Seq(Vec<Yaml>),
}

/// Collections whose flow form would make a longer line are written in block style.
const LINE_WIDTH: usize = 120;

impl Yaml {
    /// A string.
    pub fn str(s: &str) -> Yaml {
        Yaml::Str(s.to_string())
    }

    /// A Kubernetes quantity: plain when it is a whole number without leading zeros (read back as the same
    /// text) or a plain-safe string, else quoted.
    pub fn quantity(q: &str) -> Yaml {
        let is_whole_number = !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) && (q == "0" || !q.starts_with('0'));
        if is_whole_number { Yaml::Plain(q.to_string()) } else { Yaml::Str(q.to_string()) }
    }

    /// A JSON value: objects keep serde_json's key order, `null` is written as `null`.
    pub fn from_json(value: &serde_json::Value) -> Yaml {
        match value {
            serde_json::Value::Null => Yaml::Plain("null".to_string()),
            serde_json::Value::Bool(b) => Yaml::Plain(b.to_string()),
            serde_json::Value::Number(n) => Yaml::Plain(n.to_string()),
            serde_json::Value::String(s) => Yaml::Str(s.clone()),
            serde_json::Value::Array(items) => Yaml::Seq(items.iter().map(Yaml::from_json).collect()),
            serde_json::Value::Object(map) => Yaml::Map(map.iter().map(|(k, v)| (k.clone(), Yaml::from_json(v))).collect()),
        }
    }

    /// The value as a YAML document: a mapping in block style, anything else on one line.
    pub fn to_document(&self) -> String {
        let mut out = String::new();
        match self {
            Yaml::Map(entries) if !entries.is_empty() => write_block_entries(entries, 0, false, &mut out),
            Yaml::Seq(items) if !items.is_empty() => write_block_items(items, 0, &mut out),
            other => {
                other.write_flow(&mut out);
                out.push('\n');
            }
        }
        out
    }

    fn is_collection(&self) -> bool {
        match self {
            Yaml::Map(entries) => !entries.is_empty(),
            Yaml::Seq(items) => !items.is_empty(),
            Yaml::Plain(_) | Yaml::Str(_) => false,
        }
    }

    /// Writes the value in flow style (`{a: 1, b: [x, y]}`) on one line.
    pub fn write_flow(&self, out: &mut String) {
        match self {
            Yaml::Plain(text) => out.push_str(text),
            Yaml::Str(s) => write_string(s, out),
            Yaml::Map(entries) => {
                out.push('{');
                for (idx, (key, value)) in entries.iter().enumerate() {
                    if idx > 0 {
                        out.push_str(", ");
                    }
                    write_string(key, out);
                    out.push_str(": ");
                    value.write_flow(out);
                }
                out.push('}');
            }
            Yaml::Seq(items) => {
                out.push('[');
                for (idx, item) in items.iter().enumerate() {
                    if idx > 0 {
                        out.push_str(", ");
                    }
                    item.write_flow(out);
                }
                out.push(']');
            }
        }
    }

    fn flow(&self) -> String {
        let mut out = String::new();
        self.write_flow(&mut out);
        out
    }
}

/// Writes mapping entries in block style at `indent`; with `first_inline`, the first entry continues the
/// current line (after a sequence's `- `).
fn write_block_entries(entries: &[(String, Yaml)], indent: usize, first_inline: bool, out: &mut String) {
    for (idx, (key, value)) in entries.iter().enumerate() {
        if idx > 0 || !first_inline {
            push_indent(indent, out);
        }
        write_string(key, out);
        out.push(':');
        let flow = value.flow();
        if !value.is_collection() || indent + key.len() + 2 + flow.len() <= LINE_WIDTH {
            out.push(' ');
            out.push_str(&flow);
            out.push('\n');
            continue;
        }
        out.push('\n');
        match value {
            Yaml::Map(inner) => write_block_entries(inner, indent + 2, false, out),
            Yaml::Seq(items) => write_block_items(items, indent, out),
            Yaml::Plain(_) | Yaml::Str(_) => {}
        }
    }
}

/// Writes sequence items in block style, each `- ` at `indent` (as kubectl writes them under a key): on one
/// line when the item fits, else a mapping in block style.
fn write_block_items(items: &[Yaml], indent: usize, out: &mut String) {
    for item in items {
        push_indent(indent, out);
        out.push_str("- ");
        let flow = item.flow();
        match item {
            Yaml::Map(entries) if !entries.is_empty() && indent + 2 + flow.len() > LINE_WIDTH => {
                write_block_entries(entries, indent + 2, true, out);
            }
            _ => {
                out.push_str(&flow);
                out.push('\n');
            }
        }
    }
}

fn push_indent(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Writes a string as a plain scalar when that reads back as the same string, else double-quoted.
fn write_string(s: &str, out: &mut String) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else {
        write_quoted(s, out);
    }
}

/// Words some YAML reader takes for a boolean, a null or a special float (compared case-insensitively).
const RESERVED_WORDS: [&str; 12] = ["true", "false", "null", "yes", "no", "on", "off", "y", "n", "inf", "nan", "infinity"];

/// Quantity suffixes that a plain scalar starting with a digit may end with.
const QUANTITY_SUFFIXES: [&str; 12] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P"];

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if !first.is_ascii_alphanumeric() || !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')) {
        return false;
    }
    if RESERVED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return false;
    }
    if first.is_ascii_digit() {
        let Some(number) = QUANTITY_SUFFIXES.iter().find_map(|suffix| s.strip_suffix(suffix)) else { return false };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        return digits(whole) && digits(fraction);
    }
    true
}

/// Characters YAML allows unescaped in a double-quoted scalar without reading them as line breaks.
fn is_printable(c: char) -> bool {
    matches!(c, ' '..='~') || (c >= '\u{a0}' && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'))
}

fn write_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_printable(c) => out.push(c),
            c if u32::from(c) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str, expected: &str) {
        let mut out = String::new();
        write_string(s, &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn plain_when_safe() {
        check("web-0", "web-0");
        check("app.kubernetes.io/name", "app.kubernetes.io/name");
        check("500m", "500m");
        check("1.5Gi", "1.5Gi");
    }

    #[test]
    fn quoted_when_it_could_read_as_something_else() {
        check("", "\"\"");
        check("32", "\"32\"");
        check("1e3", "\"1e3\"");
        check("1E", "\"1E\"");
        check("0x1F", "\"0x1F\"");
        check("True", "\"True\"");
        check("no", "\"no\"");
        check("-1", "\"-1\"");
        check(".inf", "\".inf\"");
        check("a: b", "\"a: b\"");
        check("a,b", "\"a,b\"");
        check("1.Gi", "\"1.Gi\"");
    }

    #[test]
    fn escapes() {
        check("say \"hi\"\\\n", "\"say \\\"hi\\\"\\\\\\n\"");
        check("\u{7f}\u{85}\u{2028}é", "\"\\u007F\\u0085\\u2028é\"");
        check("\u{1}", "\"\\u0001\"");
    }

    #[test]
    fn long_collections_go_block() {
        let long = Yaml::Map((0..20).map(|i| (format!("key{i}"), Yaml::str("value"))).collect());
        let doc = Yaml::Map(vec![
            ("short".to_string(), Yaml::Map(vec![("a".into(), Yaml::Plain("1".into()))])),
            ("long".to_string(), Yaml::Seq(vec![long])),
        ]);
        let out = doc.to_document();
        assert!(out.starts_with("short: {a: 1}\nlong:\n- key0: value\n  key1: value\n"), "{out}");
    }
}
