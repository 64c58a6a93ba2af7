//! The scheduler-extender wire types (upstream `k8s.io/kube-scheduler/extender/v1`), encoded as Go's
//! `encoding/json` encodes them and decoded as it decodes them.
//!
//! The Go structs have no JSON tags, so keys are the Go field names (PascalCase), absent values are
//! written as `null`, and maps are written with sorted keys. Go escapes `<`, `>`, `&`, U+2028 and U+2029
//! in strings; [`to_go_json`] does too, so an answer is byte for byte what a Go extender would send.
//! Decoding matches keys case-insensitively (Go's rule: ASCII case, plus the Kelvin sign for `k` and the
//! long s for `s`), ignores unknown keys, reads `null` as the zero value, and lets a later duplicate key
//! win. Embedded `v1.Pod` and `v1.Node` objects are kept as the raw JSON text they arrived as: nodes are
//! echoed back verbatim and only parsed when the server's cache does not already know them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::value::RawValue;

/// Upstream `MaxExtenderPriority`: the highest score an extender's prioritize should return.
pub const MAX_EXTENDER_PRIORITY: i64 = 10;
/// Upstream `MinExtenderPriority`.
pub const MIN_EXTENDER_PRIORITY: i64 = 0;

/// A node name, borrowed from the request when it has no escapes (a call names thousands of nodes).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name<'a>(pub Cow<'a, str>);

impl Name<'_> {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> From<&'a str> for Name<'a> {
    fn from(s: &'a str) -> Self {
        Name(Cow::Borrowed(s))
    }
}

impl From<String> for Name<'_> {
    fn from(s: String) -> Self {
        Name(Cow::Owned(s))
    }
}

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// A `v1.NodeList` whose items are kept as raw JSON.
#[derive(Clone, Debug, Default)]
pub struct NodeList<'a> {
    /// The nodes.
    pub items: Vec<&'a RawValue>,
}

/// The body of a filter or prioritize call (upstream `ExtenderArgs`).
#[derive(Clone, Debug, Default)]
pub struct ExtenderArgs<'a> {
    /// The pod (`Pod`).
    pub pod: Option<&'a RawValue>,
    /// The candidate nodes (`Nodes`), set when the extender is not `nodeCacheCapable`.
    pub nodes: Option<NodeList<'a>>,
    /// The candidate nodes' names (`NodeNames`), set when it is.
    pub node_names: Option<Vec<Name<'a>>>,
}

/// Node name → failure message (upstream `FailedNodesMap`).
pub type FailedNodesMap = BTreeMap<String, String>;

/// The answer to a filter call (upstream `ExtenderFilterResult`).
#[derive(Clone, Debug, Default)]
pub struct ExtenderFilterResult<'a> {
    /// The nodes that passed (`Nodes`), when the call carried `Nodes`.
    pub nodes: Option<NodeList<'a>>,
    /// The names of the nodes that passed (`NodeNames`), when the call carried `NodeNames`.
    pub node_names: Option<Vec<Name<'a>>>,
    /// Nodes rejected in a way preemption might resolve (`FailedNodes`).
    pub failed_nodes: Option<FailedNodesMap>,
    /// Nodes rejected in a way preemption cannot resolve (`FailedAndUnresolvableNodes`).
    pub failed_and_unresolvable_nodes: Option<FailedNodesMap>,
    /// Non-empty: the whole call failed (`Error`).
    pub error: String,
}

/// One node's score (upstream `HostPriority`); a prioritize answer is a JSON array of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPriority<'a> {
    /// Node name (`Host`).
    pub host: Name<'a>,
    /// Score (`Score`), expected in 0..=10.
    pub score: i64,
}

/// The body of a bind call (upstream `ExtenderBindingArgs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderBindingArgs {
    /// `PodName`.
    pub pod_name: String,
    /// `PodNamespace`.
    pub pod_namespace: String,
    /// `PodUID`.
    pub pod_uid: String,
    /// `Node`.
    pub node: String,
}

/// The answer to a bind call (upstream `ExtenderBindingResult`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderBindingResult {
    /// Non-empty: the binding failed (`Error`).
    pub error: String,
}

/// A victim pod named by its UID (upstream `MetaPod`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaPod {
    /// `UID`.
    pub uid: String,
}

/// The victims on one node as full pods (upstream `Victims`).
#[derive(Clone, Debug, Default)]
pub struct Victims<'a> {
    /// `Pods`.
    pub pods: Option<Vec<Option<&'a RawValue>>>,
    /// `NumPDBViolations`.
    pub num_pdb_violations: i64,
}

/// The victims on one node as UIDs (upstream `MetaVictims`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaVictims {
    /// `Pods`.
    pub pods: Option<Vec<Option<MetaPod>>>,
    /// `NumPDBViolations`.
    pub num_pdb_violations: i64,
}

/// The body of a preempt call (upstream `ExtenderPreemptionArgs`).
#[derive(Clone, Debug, Default)]
pub struct ExtenderPreemptionArgs<'a> {
    /// The preemptor (`Pod`).
    pub pod: Option<&'a RawValue>,
    /// Candidates with full victim pods (`NodeNameToVictims`), when not `nodeCacheCapable`.
    pub node_name_to_victims: Option<BTreeMap<String, Option<Victims<'a>>>>,
    /// Candidates with victim UIDs (`NodeNameToMetaVictims`), when `nodeCacheCapable`.
    pub node_name_to_meta_victims: Option<BTreeMap<String, Option<MetaVictims>>>,
}

/// The answer to a preempt call (upstream `ExtenderPreemptionResult`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderPreemptionResult {
    /// The candidates the extender agrees with (`NodeNameToMetaVictims`).
    pub node_name_to_meta_victims: Option<BTreeMap<String, Option<MetaVictims>>>,
}

/// Encodes `value` as Go's `json.Marshal` would.
pub fn to_go_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Serializing these types into memory cannot fail: no map has a non-string key, no float is NaN.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

/// Bytes that a JSON string from Go's encoder writes as they are: printable ASCII other than `"`, `\\`, `<`,
/// `>` and `&`, and UTF-8 bytes other than the lead byte of U+2028 and U+2029 (0xE2, checked by the slow
/// path).
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0x20;
    while b < 256 {
        plain[b] = !matches!(b as u8, b'"' | b'\\' | b'<' | b'>' | b'&' | 0xE2);
        b += 1;
    }
    plain
};

/// Appends `s` as a JSON string exactly as [`to_go_json`] writes it; plain strings (the usual node name)
/// are copied without going through serde.
fn push_go_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| PLAIN[b as usize]) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(&to_go_json(s));
    }
}

fn push_name_list(out: &mut Vec<u8>, names: Option<&[Name<'_>]>) {
    match names {
        None => out.extend_from_slice(b"null"),
        Some(names) => {
            out.push(b'[');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_go_str(out, name);
            }
            out.push(b']');
        }
    }
}

fn push_failed(out: &mut Vec<u8>, map: Option<&FailedNodesMap>) {
    match map {
        None => out.extend_from_slice(b"null"),
        Some(map) => {
            out.push(b'{');
            for (i, (node, message)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_go_str(out, node);
                out.push(b':');
                push_go_str(out, message);
            }
            out.push(b'}');
        }
    }
}

/// A filter answer, byte for byte what [`to_go_json`] writes (tested against it), without serde's
/// per-string overhead: an answer names up to every node of the cluster.
pub fn encode_filter_result(result: &ExtenderFilterResult<'_>, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"{\"Nodes\":");
    match &result.nodes {
        None => out.extend_from_slice(b"null"),
        Some(list) => {
            out.extend_from_slice(b"{\"metadata\":{},\"items\":[");
            for (i, item) in list.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(item.get().as_bytes());
            }
            out.extend_from_slice(b"]}");
        }
    }
    out.extend_from_slice(b",\"NodeNames\":");
    push_name_list(&mut out, result.node_names.as_deref());
    out.extend_from_slice(b",\"FailedNodes\":");
    push_failed(&mut out, result.failed_nodes.as_ref());
    out.extend_from_slice(b",\"FailedAndUnresolvableNodes\":");
    push_failed(&mut out, result.failed_and_unresolvable_nodes.as_ref());
    out.extend_from_slice(b",\"Error\":");
    push_go_str(&mut out, &result.error);
    out.push(b'}');
    out
}

/// A prioritize answer, byte for byte what [`to_go_json`] writes (tested against it).
pub fn encode_host_priorities(list: &[HostPriority<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len() * 40 + 2);
    out.push(b'[');
    for (i, hp) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Host\":");
        push_go_str(&mut out, &hp.host);
        out.extend_from_slice(b",\"Score\":");
        out.extend_from_slice(hp.score.to_string().as_bytes());
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// serde_json's compact output with Go's HTML-safe string escaping.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            let (escaped, len): (&[u8], usize) = match bytes[i] {
                b'<' => (b"\\u003c", 1),
                b'>' => (b"\\u003e", 1),
                b'&' => (b"\\u0026", 1),
                0xE2 if bytes[i + 1..].starts_with(&[0x80, 0xA8]) => (b"\\u2028", 3),
                0xE2 if bytes[i + 1..].starts_with(&[0x80, 0xA9]) => (b"\\u2029", 3),
                _ => {
                    i += 1;
                    continue;
                }
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(escaped)?;
            i += len;
            start = i;
        }
        writer.write_all(&bytes[start..])
    }
}

/// Whether `key` names the field `name` (ASCII, PascalCase) under Go's case-insensitive matching.
fn go_key_matches(key: &str, name: &str) -> bool {
    let mut key_chars = key.chars();
    for expected in name.bytes() {
        let folded = match key_chars.next() {
            Some('\u{212A}') => b'k',
            Some('\u{17F}') => b's',
            Some(c) if c.is_ascii() => (c as u8).to_ascii_lowercase(),
            _ => return false,
        };
        if folded != expected.to_ascii_lowercase() {
            return false;
        }
    }
    key_chars.next().is_none()
}

/// A value that decodes `null` as its zero value, as Go does for non-pointer fields.
struct OrZero<T>(T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for OrZero<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(OrZero(Option::<T>::deserialize(d)?.unwrap_or_default()))
    }
}

/// Implements Go-style decoding (case-insensitive keys, unknown keys ignored, `null` = zero) and PascalCase
/// encoding for a struct with the given fields and keys.
macro_rules! go_struct {
    ($name:ident $(<$lt:lifetime>)?, $expecting:literal, { $($field:ident: $fty:ty => $key:literal),+ $(,)? }) => {
        impl<'de $(: $lt, $lt)?> Deserialize<'de> for $name $(<$lt>)? {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'de $(, $lt)?>(PhantomData<(&'de (), $(&$lt ())?)>);
                impl<'de $(: $lt, $lt)?> Visitor<'de> for V<'de $(, $lt)?> {
                    type Value = $name $(<$lt>)?;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("an ", $expecting, " JSON object"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = <$name $(<$lt>)?>::default();
                        while let Some(key) = map.next_key::<String>()? {
                            $(
                                if go_key_matches(&key, $key) {
                                    out.$field = map.next_value::<OrZero<$fty>>()?.0;
                                    continue;
                                }
                            )+
                            map.next_value::<IgnoredAny>()?;
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(PhantomData))
            }
        }

        impl $(<$lt>)? Serialize for $name $(<$lt>)? {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let n_fields = [$($key),+].len();
                let mut st = s.serialize_struct(stringify!($name), n_fields)?;
                $( st.serialize_field($key, &self.$field)?; )+
                st.end()
            }
        }
    };
}

go_struct!(ExtenderArgs<'a>, "ExtenderArgs", {
    pod: Option<&'a RawValue> => "Pod",
    nodes: Option<NodeList<'a>> => "Nodes",
    node_names: Option<Vec<Name<'a>>> => "NodeNames",
});
go_struct!(ExtenderFilterResult<'a>, "ExtenderFilterResult", {
    nodes: Option<NodeList<'a>> => "Nodes",
    node_names: Option<Vec<Name<'a>>> => "NodeNames",
    failed_nodes: Option<FailedNodesMap> => "FailedNodes",
    failed_and_unresolvable_nodes: Option<FailedNodesMap> => "FailedAndUnresolvableNodes",
    error: String => "Error",
});
go_struct!(HostPriority<'a>, "HostPriority", { host: Name<'a> => "Host", score: i64 => "Score" });
go_struct!(ExtenderBindingArgs, "ExtenderBindingArgs", {
    pod_name: String => "PodName",
    pod_namespace: String => "PodNamespace",
    pod_uid: String => "PodUID",
    node: String => "Node",
});
go_struct!(ExtenderBindingResult, "ExtenderBindingResult", { error: String => "Error" });
go_struct!(MetaPod, "MetaPod", { uid: String => "UID" });
go_struct!(Victims<'a>, "Victims", {
    pods: Option<Vec<Option<&'a RawValue>>> => "Pods",
    num_pdb_violations: i64 => "NumPDBViolations",
});
go_struct!(MetaVictims, "MetaVictims", {
    pods: Option<Vec<Option<MetaPod>>> => "Pods",
    num_pdb_violations: i64 => "NumPDBViolations",
});
go_struct!(ExtenderPreemptionArgs<'a>, "ExtenderPreemptionArgs", {
    pod: Option<&'a RawValue> => "Pod",
    node_name_to_victims: Option<BTreeMap<String, Option<Victims<'a>>>> => "NodeNameToVictims",
    node_name_to_meta_victims: Option<BTreeMap<String, Option<MetaVictims>>> => "NodeNameToMetaVictims",
});
go_struct!(ExtenderPreemptionResult, "ExtenderPreemptionResult", {
    node_name_to_meta_victims: Option<BTreeMap<String, Option<MetaVictims>>> => "NodeNameToMetaVictims",
});

/// `v1.NodeList` carries JSON tags (`metadata`, `items`), matched case-insensitively like the rest; its
/// `metadata` is not read and is written as `{}` (an empty `ListMeta`).
impl<'de: 'a, 'a> Deserialize<'de> for NodeList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = NodeList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NodeList")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = NodeList::default();
                while let Some(key) = map.next_key::<String>()? {
                    if go_key_matches(&key, "items") {
                        out.items = map.next_value::<OrZero<Vec<&'a RawValue>>>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

impl Serialize for NodeList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("NodeList", 2)?;
        st.serialize_field("metadata", &EmptyObject)?;
        st.serialize_field("items", &self.items)?;
        st.end()
    }
}

struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_struct("ListMeta", 0)?.end()
    }
}

/// Decodes one JSON value of type `T` from `body`, as the extender's requests are decoded; the error names
/// the path of the offending field and the line and column.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    // The common case without the path tracking's cost; a failure is decoded again to find the path.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| DecodeError::new(e.path().to_string(), e.into_inner()))?;
    de.end().map_err(|e| DecodeError::new(String::new(), e))?;
    Ok(value)
}

/// A request body that is not the expected JSON.
#[derive(Debug, thiserror::Error)]
#[error("{}{source}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct DecodeError {
    /// The field path (`NodeNames[2]`), empty at the top.
    pub path: String,
    /// serde_json's message, with line and column.
    pub source: serde_json::Error,
}

impl DecodeError {
    fn new(path: String, source: serde_json::Error) -> DecodeError {
        // serde_path_to_error writes `.` for the top level and `?` where it lost track (at end of input).
        let path = if path == "." || path == "?" { String::new() } else { path };
        DecodeError { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_encoding<T: Serialize>(value: &T, expected: &str) {
        assert_eq!(String::from_utf8(to_go_json(value)).unwrap(), expected);
    }

    #[test]
    fn upstream_compatibility_test_encodings() {
        check_encoding(&HostPriority { host: "myhost".into(), score: 1 }, r#"{"Host":"myhost","Score":1}"#);
        check_encoding(
            &ExtenderBindingArgs {
                pod_name: "mypodname".into(),
                pod_namespace: "mypodnamespace".into(),
                pod_uid: "mypoduid".into(),
                node: "mynode".into(),
            },
            r#"{"PodName":"mypodname","PodNamespace":"mypodnamespace","PodUID":"mypoduid","Node":"mynode"}"#,
        );
        check_encoding(&ExtenderBindingResult { error: "myerror".into() }, r#"{"Error":"myerror"}"#);
        let victims = MetaVictims { pods: Some(vec![Some(MetaPod { uid: "myuid".into() })]), num_pdb_violations: 1 };
        check_encoding(
            &ExtenderPreemptionResult { node_name_to_meta_victims: Some(BTreeMap::from([("foo".to_string(), Some(victims))])) },
            r#"{"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}"#,
        );
    }

    #[test]
    fn absent_fields_are_null_and_maps_sorted() {
        let result = ExtenderFilterResult {
            node_names: Some(vec!["a".into()]),
            failed_nodes: Some(BTreeMap::from([("z".into(), "x".into()), ("b".into(), "y".into())])),
            ..ExtenderFilterResult::default()
        };
        check_encoding(
            &result,
            r#"{"Nodes":null,"NodeNames":["a"],"FailedNodes":{"b":"y","z":"x"},"FailedAndUnresolvableNodes":null,"Error":""}"#,
        );
    }

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        check_encoding(
            &ExtenderBindingResult { error: "a<b>&c\u{2028}\u{2029}\"\n\u{1}é".into() },
            r#"{"Error":"a\u003cb\u003e\u0026c\u2028\u2029\"\n\u0001é"}"#,
        );
    }

    #[test]
    fn node_list_echoes_raw_items() {
        let raw = RawValue::from_string(r#"{"metadata":{"name":"n<1>"}}"#.into()).unwrap();
        let list = NodeList { items: vec![&raw] };
        check_encoding(&list, r#"{"metadata":{},"items":[{"metadata":{"name":"n<1>"}}]}"#);
    }

    #[test]
    fn keys_match_case_insensitively_as_in_go() {
        let args: ExtenderBindingArgs = decode(br#"{"podname":"p","PODNAMESPACE":"ns","poduid":"u","node":"n","extra":[1,{}]}"#).unwrap();
        assert_eq!(args, ExtenderBindingArgs { pod_name: "p".into(), pod_namespace: "ns".into(), pod_uid: "u".into(), node: "n".into() });
        // The Kelvin sign folds to k, the long s to s.
        let meta: MetaVictims = decode("{\"pod\u{17F}\":[{\"uid\":\"x\"}],\"NumPDBViolations\":2}".as_bytes()).unwrap();
        assert_eq!(meta.pods.unwrap()[0].as_ref().unwrap().uid, "x");
        assert!(go_key_matches("\u{212A}", "K"));
        assert!(!go_key_matches("Podé", "Pods"));
        assert!(!go_key_matches("Pod", "Pods"));
    }

    #[test]
    fn null_is_the_zero_value_and_last_duplicate_wins() {
        let args: ExtenderBindingArgs = decode(br#"{"PodName":null,"Node":"a","Node":"b"}"#).unwrap();
        assert_eq!(args.pod_name, "");
        assert_eq!(args.node, "b");
        let result: ExtenderFilterResult<'_> = decode(br#"{"Nodes":null,"NodeNames":null,"FailedNodes":null,"Error":null}"#).unwrap();
        assert!(result.nodes.is_none() && result.node_names.is_none() && result.failed_nodes.is_none());
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = decode::<ExtenderArgs<'_>>(br#"{"NodeNames":["a",5]}"#).unwrap_err();
        assert_eq!(err.to_string(), "NodeNames[1]: invalid type: integer `5`, expected a string at line 1 column 19");
        let err = decode::<ExtenderArgs<'_>>(br#"{"Pod":{}} x"#).unwrap_err();
        assert_eq!(err.to_string(), "trailing characters at line 1 column 12");
        let err = decode::<ExtenderArgs<'_>>(b"[1]").unwrap_err();
        assert_eq!(err.to_string(), "invalid type: sequence, expected an ExtenderArgs JSON object at line 1 column 0");
    }

    fn go_string() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("(node-[a-z0-9]{0,12}|[ -~]{0,6}|[<>&\"\\\\]|\u{2028}|\u{2029}|é|\u{1}|\u{7f}|\u{e2}){0,4}").unwrap()
    }

    proptest::proptest! {
        #[test]
        fn fast_encoders_write_what_serde_writes(
            names in proptest::collection::vec(go_string(), 0..6),
            failed in proptest::collection::btree_map(go_string(), go_string(), 0..4),
            error in go_string(),
            scores in proptest::collection::vec(-20i64..200, 0..6),
            with_names in proptest::bool::ANY,
        ) {
            let names: Vec<Name<'_>> = names.iter().map(|n| Name::from(n.as_str())).collect();
            let result = ExtenderFilterResult {
                nodes: None,
                node_names: with_names.then(|| names.clone()),
                failed_nodes: Some(failed.clone()),
                failed_and_unresolvable_nodes: (!with_names).then(|| failed.clone()),
                error: error.clone(),
            };
            proptest::prop_assert_eq!(encode_filter_result(&result, 0), to_go_json(&result));
            let list: Vec<HostPriority<'_>> = names.iter().zip(&scores).map(|(n, &score)| HostPriority { host: n.clone(), score }).collect();
            proptest::prop_assert_eq!(encode_host_priorities(&list), to_go_json(&list));
        }
    }

    #[test]
    fn fast_filter_encoder_echoes_nodes_as_serde_does() {
        let raw = RawValue::from_string(r#"{"metadata":{"name":"n<1>"}}"#.into()).unwrap();
        let result = ExtenderFilterResult { nodes: Some(NodeList { items: vec![&raw, &raw] }), ..ExtenderFilterResult::default() };
        assert_eq!(encode_filter_result(&result, 0), to_go_json(&result));
    }
}
