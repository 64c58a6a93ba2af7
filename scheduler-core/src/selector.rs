//! Label selectors (pod affinity, spread constraints) and node selectors (node affinity), compiled to symbols.

use smallvec::SmallVec;

use crate::error::ModelError;
use crate::intern::{Interner, Symbol, parse_go_int64};
use crate::labels::Labels;

/// Operator of a label selector requirement.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LabelOperator {
    /// The label is present with one of the values.
    In,
    /// The label is absent or has none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl LabelOperator {
    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<LabelOperator> {
        match s {
            "In" => Some(LabelOperator::In),
            "NotIn" => Some(LabelOperator::NotIn),
            "Exists" => Some(LabelOperator::Exists),
            "DoesNotExist" => Some(LabelOperator::DoesNotExist),
            _ => None,
        }
    }
}

/// One `matchExpressions` entry of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSelectorRequirementDef {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: LabelOperator,
    /// Values; non-empty for `In`/`NotIn`, empty otherwise.
    pub values: Vec<String>,
}

/// A `metav1.LabelSelector`. An empty selector (`{}`) matches everything; an absent one matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelectorDef {
    /// `matchLabels`.
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`.
    pub match_expressions: Vec<LabelSelectorRequirementDef>,
}

/// A compiled label requirement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LabelRequirement {
    key: Symbol,
    operator: LabelOperator,
    values: SmallVec<[Symbol; 2]>,
}

impl LabelRequirement {
    #[inline]
    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(self.key);
        match self.operator {
            LabelOperator::In => value.is_some_and(|v| self.values.contains(&v)),
            LabelOperator::NotIn => value.is_none_or(|v| !self.values.contains(&v)),
            LabelOperator::Exists => value.is_some(),
            LabelOperator::DoesNotExist => value.is_none(),
        }
    }
}

/// A compiled label selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LabelSelector {
    /// Matches nothing (upstream `labels.Nothing()`, from an absent selector).
    Nothing,
    /// Matches labels satisfying every requirement; no requirements match everything.
    All(Vec<LabelRequirement>),
}

impl LabelSelector {
    /// Compiles `def` (upstream `metav1.LabelSelectorAsSelector`); `None` gives [`LabelSelector::Nothing`].
    pub fn compile(def: Option<&LabelSelectorDef>, interner: &mut Interner, field: &str) -> Result<LabelSelector, ModelError> {
        let Some(def) = def else { return Ok(LabelSelector::Nothing) };
        let mut requirements = Vec::new();
        for (key, value) in &def.match_labels {
            requirements.push(LabelRequirement {
                key: interner.intern(key),
                operator: LabelOperator::In,
                values: SmallVec::from_elem(interner.intern(value), 1),
            });
        }
        for (idx, expr) in def.match_expressions.iter().enumerate() {
            let field = format!("{field}.matchExpressions[{idx}]");
            check_value_count(expr.operator, expr.values.len(), &field)?;
            requirements.push(LabelRequirement {
                key: interner.intern(&expr.key),
                operator: expr.operator,
                values: expr.values.iter().map(|v| interner.intern(v)).collect(),
            });
        }
        Ok(LabelSelector::All(requirements))
    }

    /// Whether `labels` satisfy the selector.
    #[inline]
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            LabelSelector::Nothing => false,
            LabelSelector::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }
}

fn check_value_count(operator: LabelOperator, n_values: usize, field: &str) -> Result<(), ModelError> {
    match operator {
        LabelOperator::In | LabelOperator::NotIn if n_values == 0 => {
            Err(ModelError::new(format!("{field}.values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        }
        LabelOperator::Exists | LabelOperator::DoesNotExist if n_values > 0 => {
            Err(ModelError::new(format!("{field}.values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        }
        _ => Ok(()),
    }
}

/// Operator of a node selector requirement.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NodeSelectorOperator {
    /// The label is present with one of the values.
    In,
    /// The label is absent or has none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label is an integer greater than the single value.
    Gt,
    /// The label is an integer less than the single value.
    Lt,
}

impl NodeSelectorOperator {
    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<NodeSelectorOperator> {
        match s {
            "In" => Some(NodeSelectorOperator::In),
            "NotIn" => Some(NodeSelectorOperator::NotIn),
            "Exists" => Some(NodeSelectorOperator::Exists),
            "DoesNotExist" => Some(NodeSelectorOperator::DoesNotExist),
            "Gt" => Some(NodeSelectorOperator::Gt),
            "Lt" => Some(NodeSelectorOperator::Lt),
            _ => None,
        }
    }
}

/// One `matchExpressions` or `matchFields` entry of a node selector term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSelectorRequirementDef {
    /// Label key, or `metadata.name` in `matchFields`.
    pub key: String,
    /// Operator.
    pub operator: NodeSelectorOperator,
    /// Values.
    pub values: Vec<String>,
}

/// A node selector term: its expressions and fields are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTermDef {
    /// `matchExpressions` over node labels.
    pub match_expressions: Vec<NodeSelectorRequirementDef>,
    /// `matchFields`; only `metadata.name` exists.
    pub match_fields: Vec<NodeSelectorRequirementDef>,
}

/// A `v1.NodeSelector`: its terms are ORed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorDef {
    /// `nodeSelectorTerms`.
    pub terms: Vec<NodeSelectorTermDef>,
}

/// A preferred scheduling term with its weight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreferredSchedulingTermDef {
    /// Weight, 1–100 in the API.
    pub weight: i32,
    /// The preference.
    pub preference: NodeSelectorTermDef,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum NodeRequirement {
    Label(LabelRequirement),
    Gt(Symbol, i64),
    Lt(Symbol, i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FieldRequirement {
    name_in: bool,
    name: Symbol,
}

/// The node-side facts a node selector reads.
#[derive(Clone, Copy)]
pub struct NodeFacts<'a> {
    /// Node name, interned.
    pub name: Symbol,
    /// Node labels.
    pub labels: &'a Labels,
}

/// A compiled node selector term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeSelectorTerm {
    expressions: Vec<NodeRequirement>,
    fields: Vec<FieldRequirement>,
}

impl NodeSelectorTerm {
    /// Compiles a term; `None` if it is empty (upstream drops empty terms: they select no node).
    pub fn compile(def: &NodeSelectorTermDef, interner: &mut Interner, field: &str) -> Result<Option<NodeSelectorTerm>, ModelError> {
        if def.match_expressions.is_empty() && def.match_fields.is_empty() {
            return Ok(None);
        }
        let mut expressions = Vec::with_capacity(def.match_expressions.len());
        for (idx, expr) in def.match_expressions.iter().enumerate() {
            let field = format!("{field}.matchExpressions[{idx}]");
            let key = interner.intern(&expr.key);
            let label_op = match expr.operator {
                NodeSelectorOperator::In => Some(LabelOperator::In),
                NodeSelectorOperator::NotIn => Some(LabelOperator::NotIn),
                NodeSelectorOperator::Exists => Some(LabelOperator::Exists),
                NodeSelectorOperator::DoesNotExist => Some(LabelOperator::DoesNotExist),
                NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => None,
            };
            let compiled = match label_op {
                Some(operator) => {
                    check_value_count(operator, expr.values.len(), &field)?;
                    NodeRequirement::Label(LabelRequirement {
                        key,
                        operator,
                        values: expr.values.iter().map(|v| interner.intern(v)).collect(),
                    })
                }
                None => {
                    let [value] = expr.values.as_slice() else {
                        return Err(ModelError::new(
                            format!("{field}.values"),
                            "must be specified single value when `operator` is 'Lt' or 'Gt'",
                        ));
                    };
                    let Some(bound) = parse_go_int64(value) else {
                        return Err(ModelError::new(
                            format!("{field}.values[0]"),
                            format!("must be an integer for operator 'Gt' or 'Lt', got {value:?}"),
                        ));
                    };
                    if expr.operator == NodeSelectorOperator::Gt {
                        NodeRequirement::Gt(key, bound)
                    } else {
                        NodeRequirement::Lt(key, bound)
                    }
                }
            };
            expressions.push(compiled);
        }
        let mut fields = Vec::with_capacity(def.match_fields.len());
        for (idx, expr) in def.match_fields.iter().enumerate() {
            let field = format!("{field}.matchFields[{idx}]");
            if expr.key != "metadata.name" {
                return Err(ModelError::new(
                    format!("{field}.key"),
                    format!("not a supported field selector key: {:?} (only metadata.name)", expr.key),
                ));
            }
            let name_in = match expr.operator {
                NodeSelectorOperator::In => true,
                NodeSelectorOperator::NotIn => false,
                other => {
                    return Err(ModelError::new(
                        format!("{field}.operator"),
                        format!("{other:?} is not a valid node field selector operator (In or NotIn)"),
                    ));
                }
            };
            let [value] = expr.values.as_slice() else {
                return Err(ModelError::new(format!("{field}.values"), "must have one element"));
            };
            fields.push(FieldRequirement { name_in, name: interner.intern(value) });
        }
        Ok(Some(NodeSelectorTerm { expressions, fields }))
    }

    /// Whether the node satisfies every expression and field of the term.
    #[inline]
    pub fn matches(&self, node: NodeFacts<'_>, interner: &Interner) -> bool {
        self.expressions.iter().all(|req| match req {
            NodeRequirement::Label(r) => r.matches(node.labels),
            NodeRequirement::Gt(key, bound) => node.labels.get(*key).and_then(|v| interner.int_value(v)).is_some_and(|v| v > *bound),
            NodeRequirement::Lt(key, bound) => node.labels.get(*key).and_then(|v| interner.int_value(v)).is_some_and(|v| v < *bound),
        }) && self.fields.iter().all(|f| (node.name == f.name) == f.name_in)
    }

    /// The node names this term allows if it has a `metadata.name In` field (upstream uses it to narrow the
    /// nodes to filter): the intersection of its `In` name sets. `None` if it has no such field.
    pub fn required_node_names(&self) -> Option<SmallVec<[Symbol; 1]>> {
        let mut names: Option<SmallVec<[Symbol; 1]>> = None;
        for f in self.fields.iter().filter(|f| f.name_in) {
            names = Some(match names {
                None => SmallVec::from_elem(f.name, 1),
                Some(prev) => prev.into_iter().filter(|&n| n == f.name).collect(),
            });
        }
        names
    }
}

/// A compiled node selector: the node must match at least one term. No terms match nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeSelector {
    /// The non-empty terms.
    pub terms: Vec<NodeSelectorTerm>,
    /// Whether the definition had empty terms (dropped from `terms`; upstream's NodeAffinity PreFilter then
    /// does not narrow the nodes).
    pub has_empty_terms: bool,
}

impl NodeSelector {
    /// Compiles a node selector, dropping empty terms as upstream does.
    pub fn compile(def: &NodeSelectorDef, interner: &mut Interner, field: &str) -> Result<NodeSelector, ModelError> {
        let mut terms = Vec::new();
        let mut has_empty_terms = false;
        for (idx, term) in def.terms.iter().enumerate() {
            match NodeSelectorTerm::compile(term, interner, &format!("{field}.nodeSelectorTerms[{idx}]"))? {
                Some(t) => terms.push(t),
                None => has_empty_terms = true,
            }
        }
        Ok(NodeSelector { terms, has_empty_terms })
    }

    /// Whether any term matches.
    #[inline]
    pub fn matches(&self, node: NodeFacts<'_>, interner: &Interner) -> bool {
        self.terms.iter().any(|t| t.matches(node, interner))
    }
}

/// A compiled preferred scheduling term.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PreferredTerm {
    /// Weight (non-zero).
    pub weight: i32,
    /// The preference.
    pub term: NodeSelectorTerm,
}

impl PreferredTerm {
    /// Compiles preferred terms (upstream `NewPreferredSchedulingTerms`): terms of weight 0 or with an empty
    /// preference are dropped.
    pub fn compile_all(
        defs: &[PreferredSchedulingTermDef],
        interner: &mut Interner,
        field: &str,
    ) -> Result<Vec<PreferredTerm>, ModelError> {
        let mut terms = Vec::with_capacity(defs.len());
        for (idx, def) in defs.iter().enumerate() {
            if def.weight == 0 {
                continue;
            }
            if let Some(term) = NodeSelectorTerm::compile(&def.preference, interner, &format!("{field}[{idx}].preference"))? {
                terms.push(PreferredTerm { weight: def.weight, term });
            }
        }
        Ok(terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(i: &mut Interner, pairs: &[(&str, &str)]) -> Labels {
        Labels::new(i, pairs.iter().copied())
    }

    fn expr(key: &str, operator: NodeSelectorOperator, values: &[&str]) -> NodeSelectorRequirementDef {
        NodeSelectorRequirementDef { key: key.into(), operator, values: values.iter().map(|v| v.to_string()).collect() }
    }

    fn check_term(exprs: Vec<NodeSelectorRequirementDef>, node_labels: &[(&str, &str)], want: bool) {
        let i = &mut Interner::new();
        let term = NodeSelectorTerm::compile(&NodeSelectorTermDef { match_expressions: exprs.clone(), match_fields: vec![] }, i, "t")
            .unwrap()
            .unwrap();
        let node_labels = labels(i, node_labels);
        let name = i.intern("node-1");
        assert_eq!(term.matches(NodeFacts { name, labels: &node_labels }, i), want, "{exprs:?} on {node_labels:?}");
    }

    #[test]
    fn node_selector_operators() {
        use NodeSelectorOperator::*;
        check_term(vec![expr("zone", In, &["a", "b"])], &[("zone", "a")], true);
        check_term(vec![expr("zone", In, &["a", "b"])], &[("zone", "c")], false);
        check_term(vec![expr("zone", In, &["a"])], &[], false);
        check_term(vec![expr("zone", NotIn, &["a"])], &[], true);
        check_term(vec![expr("zone", NotIn, &["a"])], &[("zone", "a")], false);
        check_term(vec![expr("gpu", Exists, &[])], &[("gpu", "")], true);
        check_term(vec![expr("gpu", DoesNotExist, &[])], &[("gpu", "x")], false);
        check_term(vec![expr("cores", Gt, &["4"])], &[("cores", "8")], true);
        check_term(vec![expr("cores", Gt, &["4"])], &[("cores", "4")], false);
        check_term(vec![expr("cores", Lt, &["4"])], &[("cores", "-1")], true);
        check_term(vec![expr("cores", Gt, &["4"])], &[("cores", "eight")], false);
        check_term(vec![expr("cores", Gt, &["4"])], &[], false);
        check_term(vec![expr("zone", In, &["a"]), expr("gpu", Exists, &[])], &[("zone", "a")], false);
    }

    #[test]
    fn match_fields_on_node_name() {
        let i = &mut Interner::new();
        let def =
            NodeSelectorTermDef { match_expressions: vec![], match_fields: vec![expr("metadata.name", NodeSelectorOperator::In, &["n1"])] };
        let term = NodeSelectorTerm::compile(&def, i, "t").unwrap().unwrap();
        let empty = Labels::default();
        let (n1, n2) = (i.intern("n1"), i.intern("n2"));
        assert!(term.matches(NodeFacts { name: n1, labels: &empty }, i));
        assert!(!term.matches(NodeFacts { name: n2, labels: &empty }, i));
        assert_eq!(term.required_node_names().unwrap().as_slice(), &[n1]);
    }

    #[test]
    fn empty_terms_are_dropped_and_no_terms_match_nothing() {
        let i = &mut Interner::new();
        let sel = NodeSelector::compile(&NodeSelectorDef { terms: vec![NodeSelectorTermDef::default()] }, i, "s").unwrap();
        assert!(sel.terms.is_empty());
        let empty = Labels::default();
        assert!(!sel.matches(NodeFacts { name: i.intern("n"), labels: &empty }, i));
    }

    #[test]
    fn malformed_requirements_name_the_field() {
        use NodeSelectorOperator::*;
        let i = &mut Interner::new();
        let mut bad = |e: NodeSelectorRequirementDef| {
            NodeSelectorTerm::compile(&NodeSelectorTermDef { match_expressions: vec![e], match_fields: vec![] }, i, "term")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(bad(expr("k", In, &[])), "term.matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'");
        assert_eq!(
            bad(expr("k", Gt, &["1", "2"])),
            "term.matchExpressions[0].values: must be specified single value when `operator` is 'Lt' or 'Gt'"
        );
        assert_eq!(
            bad(expr("k", Lt, &["x"])),
            "term.matchExpressions[0].values[0]: must be an integer for operator 'Gt' or 'Lt', got \"x\""
        );
        assert_eq!(
            bad(expr("k", Exists, &["x"])),
            "term.matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        );
    }

    #[test]
    fn label_selectors() {
        let i = &mut Interner::new();
        let app_web = labels(i, &[("app", "web"), ("tier", "front")]);
        let def = LabelSelectorDef {
            match_labels: vec![("app".into(), "web".into())],
            match_expressions: vec![LabelSelectorRequirementDef {
                key: "tier".into(),
                operator: LabelOperator::NotIn,
                values: vec!["db".into()],
            }],
        };
        assert!(LabelSelector::compile(Some(&def), i, "s").unwrap().matches(&app_web));
        assert!(LabelSelector::compile(Some(&LabelSelectorDef::default()), i, "s").unwrap().matches(&app_web));
        assert!(!LabelSelector::compile(None, i, "s").unwrap().matches(&app_web));
    }
}
