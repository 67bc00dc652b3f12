//! The STIX 2.1 pattern syntax tree.

/// An observation expression: what must be observed, and how observations combine.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// `[ comparison ]`: one observed object satisfies the comparison.
    Simple(Comparison),
    /// `( observations )`.
    Group(Box<Observation>),
    /// An observation with a qualifier (`WITHIN 300 SECONDS`, `REPEATS 5 TIMES`, `START … STOP …`).
    Qualified(Box<Observation>, Qualifier),
    /// All observations (two or more; chains are kept flat, never deep).
    And(Vec<Observation>),
    /// Any of the observations.
    Or(Vec<Observation>),
    /// The observations in this order.
    FollowedBy(Vec<Observation>),
}

/// A qualifier of an observation.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (the number as written).
    Within(String),
    /// `REPEATS n TIMES` (the number as written).
    Repeats(String),
    /// `START t'…' STOP t'…'` (timestamps as written, without `t'…'`).
    StartStop(String, String),
}

/// A comparison expression inside `[ … ]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// All hold (two or more).
    And(Vec<Comparison>),
    /// Any holds (two or more).
    Or(Vec<Comparison>),
    /// `EXISTS path`.
    Exists(ObjectPath),
    /// `path [NOT] op value`.
    Test(PropTest),
}

/// `path [NOT] op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct PropTest {
    /// The object property.
    pub path: ObjectPath,
    /// `NOT` before the operator.
    pub negated: bool,
    /// The operator.
    pub op: Operator,
    /// The value (a set for `IN`).
    pub value: Value,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Operator {
    Eq,
    Neq,
    Gt,
    Lt,
    Ge,
    Le,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

/// A path into an observed object: `file:hashes.'SHA-256'`, `network-traffic:dst_ref.value`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPath {
    /// The object type (`ipv4-addr`).
    pub object_type: String,
    /// Property keys and list indexes after the colon.
    pub steps: Vec<PathStep>,
}

/// One step of an [`ObjectPath`].
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    /// A property name (quotes removed).
    Key(String),
    /// A list index as written (`0`, `-1`), or `None` for `*`.
    Index(Option<String>),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, unescaped.
    Str(String),
    /// An integer as written.
    Int(String),
    /// A float as written.
    Float(String),
    /// `true` or `false`.
    Bool(bool),
    /// `b'…'` base64 content.
    Binary(String),
    /// `h'…'` hex content.
    Hex(String),
    /// `t'…'` timestamp content.
    Timestamp(String),
    /// `( v, … )` for `IN`.
    Set(Vec<Value>),
}

impl ObjectPath {
    /// The path as `type:key.key`, indexes as `[n]`/`[*]`.
    pub fn dotted(&self) -> String {
        let mut out = format!("{}:", self.object_type);
        for (idx, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Key(key) => {
                    if idx > 0 {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                PathStep::Index(Some(n)) => out.push_str(&format!("[{n}]")),
                PathStep::Index(None) => out.push_str("[*]"),
            }
        }
        out
    }

    /// The property keys only, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|step| match step {
            PathStep::Key(key) => Some(key.as_str()),
            PathStep::Index(_) => None,
        })
    }
}
