//! Connector configs: parsing from JSON with every problem reported by field path.
//!
//! A config is a serde struct with `#[serde(deny_unknown_fields)]` and `schemars::JsonSchema`
//! that implements [`ConnectorConfig`]. [`from_json`] (or [`parse`], which also returns the
//! fields that were accepted and ignored) reports every problem of a config in one
//! [`ErrorKind::Config`](crate::ErrorKind::Config) error, each with its field path: the
//! structural ones (unknown fields, missing required fields, wrong types, values out of range)
//! *and* the semantic ones from [`validate`](ConnectorConfig::validate), together, so a user
//! fixes a config in one round rather than one kind of problem per run.
//!
//! # Configs as RAGFlow sends them
//! A host migrating from RAGFlow hands us the configs RAGFlow stored, unchanged, so the
//! config layer reads them as RAGFlow does, for every connector at once (the rules are in
//! [`parse`]): blank fields are absent, numbers and booleans may come as strings, a field may
//! have other names, and RAGFlow's generic knobs ([`GENERIC_IGNORED`]) are accepted everywhere.
//! A config type declares what is particular to it next to its fields:
//!
//! - another name of a field: `#[schemars(extend("x-aliases" = ["jira_username"]))]` on the
//!   field (`jira_user_email`);
//! - a RAGFlow field it accepts and does not use: an entry in
//!   [`ConnectorConfig::IGNORED`], with the reason a user is told;
//! - a generic knob it does use: a field of that name, which then takes precedence over the
//!   generic entry;
//! - a number field where RAGFlow reads zero or less as "use the default" (`if limit and
//!   limit > 0`): `#[schemars(extend("x-default-unless-positive" = true))]`;
//! - fields its other settings leave unused (a `space` left over from another mode):
//!   [`ConnectorConfig::unused`].
//!
//! It stays strict about everything else: an unknown field is still an error, with a "did you
//! mean" hint for a likely typo.
//!
//! Value shapes that several connectors' configs share live here too: [`StringList`], the
//! list RAGFlow's web form sends either as a JSON array or as one string of entries.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, FieldError, Result};

mod lenient;

/// A connector's configuration.
pub trait ConnectorConfig: DeserializeOwned + JsonSchema {
    /// RAGFlow fields of this source that are accepted and not used, each with the reason a
    /// user is told (beyond [`GENERIC_IGNORED`], which every config accepts). A path names a
    /// field of the config (`"space"`) or of an object in it (`"credentials.region"`).
    const IGNORED: &'static [IgnoredField] = &[];

    /// Checks the rules the JSON Schema cannot express (one of two fields required, a URL's
    /// scheme, a glob that does not compile) and returns every problem with its field path.
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// Fields this config was given that its other settings leave unused, as RAGFlow leaves
    /// them (a `space` left over from another `index_mode`, a password next to the token that
    /// wins): reported with the fields in [`IGNORED`](Self::IGNORED), so a user learns that a
    /// value did nothing.
    fn unused(&self) -> Vec<Ignored> {
        Vec::new()
    }
}

/// A field a config accepts for RAGFlow compatibility and ignores, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgnoredField {
    /// The field's path: `"sync_batch_size"`, `"credentials.authentication_method"`.
    pub path: &'static str,
    /// Why it is ignored, or where its job is done instead; shown to the user.
    pub reason: &'static str,
    /// Values not worth a note, written as a form sends them (`"false"`, `"2"`, `"uploaded"`;
    /// compared without regard to case): what RAGFlow's form always sends and what changes
    /// nothing here either, so that a config saved by the form is not met with a wall of notes.
    pub quiet: &'static [&'static str],
}

impl IgnoredField {
    /// An ignored field at `path`, ignored because of `reason`.
    pub const fn new(path: &'static str, reason: &'static str) -> Self {
        Self {
            path,
            reason,
            quiet: &[],
        }
    }

    /// The same, without a note when the value is one of `values`.
    #[must_use]
    pub const fn quiet_for(mut self, values: &'static [&'static str]) -> Self {
        self.quiet = values;
        self
    }
}

/// RAGFlow's generic knobs, which its sync loop (not the connector) reads for most sources.
/// Every config accepts them; a config that declares a field of the same name uses it
/// instead, and one that lists the same path in its own [`IGNORED`](ConnectorConfig::IGNORED)
/// gives its own reason.
pub const GENERIC_IGNORED: &[IgnoredField] = &[
    IgnoredField::new(
        "batch_size",
        "documents reach the host in the batches the sync is run with \
         (`SyncOptions::batch_docs`, `connectors sync --batch-size`)",
    )
    // RAGFlow's own default (`INDEX_BATCH_SIZE`), which its form sends for some sources.
    .quiet_for(&["2"]),
    IgnoredField::new(
        "sync_batch_size",
        "documents reach the host in the batches the sync is run with \
         (`SyncOptions::batch_docs`, `connectors sync --batch-size`)",
    ),
    IgnoredField::new(
        "sync_deleted_files",
        "removing what the source deleted is the prune pass, which the host runs \
         (`SyncOptions::prune`, `connectors sync --prune`)",
    )
    // The form sends `false` for every source; no prune is what happens here too.
    .quiet_for(&["false"]),
    IgnoredField::new(
        "time_buffer_seconds",
        "the overlap between incremental windows is the sync's `SyncOptions::overlap`",
    ),
    IgnoredField::new("allow_images", "this source has no images to leave out"),
    IgnoredField::new(
        "credentials.authentication_method",
        "this source tells how to authenticate from the credentials given",
    ),
];

/// A field a config was given, accepted and ignored (see [`IgnoredField`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The field's path in the config given.
    pub path: String,
    /// Why it is ignored.
    pub reason: String,
}

impl Ignored {
    /// A field at `path` given and ignored because of `reason`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is accepted for RAGFlow compatibility and ignored: {}",
            self.path, self.reason
        )
    }
}

/// A parsed, validated config and the fields of it that were accepted and ignored.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Parsed<C> {
    /// The config.
    pub config: C,
    /// Fields given that the connector does not use, for the host to show: a config's own
    /// fields by name, then those of the objects in it.
    pub ignored: Vec<Ignored>,
}

/// The JSON Schema of a config type, with the other names of its fields and the fields it
/// accepts and ignores (its own and [`GENERIC_IGNORED`]) as properties of their own. Alias
/// properties carry `"x-alias-of"`, ignored ones `"x-ignored"` with the reason.
///
/// It describes a config *as read* by [`parse`]: the field names a config may use, their
/// types and choices. The reading rules come first and are not in the schema (a blank field
/// is absent, `"2"` is an integer, `"Space"` is `space`, an alias satisfies its field's
/// `required`), so a raw RAGFlow config can fail a plain JSON Schema validator and still be
/// accepted; validate with [`parse`] (or `Registry::effective_config`) instead.
pub fn schema_of<C: ConnectorConfig>() -> Value {
    let mut schema = schemars::schema_for!(C).to_value();
    let ignored: Vec<(&str, &str, &[&str])> = C::IGNORED
        .iter()
        .chain(GENERIC_IGNORED)
        .map(|f| (f.path, f.reason, f.quiet))
        .collect();
    lenient::extend_schema(&mut schema, &ignored);
    schema
}

/// Mistakes in how a config type declares its RAGFlow compatibility, one message each: an
/// [`IGNORED`](ConnectorConfig::IGNORED) entry naming a field the config declares (it would be
/// used, not ignored) or an object the config does not have, and an alias (`x-aliases`) that
/// is also the name of a field. Empty for a sound config; a connector crate asserts that in a
/// test (the facade's tests do it for every registered source).
///
/// ```
/// # use connector_core::config::{ConnectorConfig, IgnoredField, declaration_problems};
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct MyConfig {
///     space: String,
/// }
/// impl ConnectorConfig for MyConfig {
///     const IGNORED: &'static [IgnoredField] = &[IgnoredField::new("space", "not used")];
/// }
/// assert_eq!(
///     declaration_problems::<MyConfig>(),
///     ["IGNORED names `space`, a field the config declares (and so uses)"]
/// );
/// ```
pub fn declaration_problems<C: ConnectorConfig>() -> Vec<String> {
    let schema = schemars::schema_for!(C).to_value();
    let own: Vec<&str> = C::IGNORED.iter().map(|f| f.path).collect();
    lenient::declaration_problems(&schema, &own)
}

/// Parses and validates a config from JSON, reporting every problem at once. The same as
/// [`parse`] without the ignored fields.
///
/// # Errors
/// As [`parse`].
pub fn from_json<C: ConnectorConfig>(value: Value) -> Result<C> {
    parse(value).map(|parsed| parsed.config)
}

/// Parses and validates a config from JSON, reading it as RAGFlow does and reporting every
/// problem at once.
///
/// # How a config is read
/// Guided by the config's JSON Schema ([`schema_of`]), wherever the schema describes the
/// fields (the root, `credentials`, nested objects, list entries):
/// - a field given as `""` (or only whitespace) or `null` is absent, as RAGFlow's
///   `conf.get(x) or default` reads it; a required one is then reported as required;
/// - a string where an integer is expected is read as Python's `int()` reads it (`" 2 "`,
///   `"+3"`, `"1_000"`); where a number is expected, as a decimal number; where a boolean is
///   expected, `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` in any case; a string naming one
///   of a fixed set of choices in another case is that choice (`"Space"` is `space`);
/// - a number where only a string is expected is its decimal text (`page_id: 12345`), `0`/`1`
///   where a boolean is expected are false/true, and an integral `2.0` where an integer is
///   expected is `2`;
/// - another name of a field (`x-aliases`) is that field; given under several names, the
///   first non-blank one in the order field, aliases wins (RAGFlow's `get(a) or get(b)`), and
///   a different value under a later name is listed in [`Parsed::ignored`];
/// - a field accepted and ignored ([`ConnectorConfig::IGNORED`], [`GENERIC_IGNORED`]) is
///   removed and listed in [`Parsed::ignored`].
///
/// A value that cannot be read so is left as it is and reported by the checks below.
///
/// # How every problem is found
/// 1. The JSON is checked against the config's JSON Schema ([`schema_of`]): unknown fields
///    (with a "did you mean" hint for a likely typo), missing required fields, wrong types,
///    values outside an enum or a range, anywhere in the config.
/// 2. The config is deserialised. When that fails, or step 1 found problems, each offending
///    field is *dropped* from a copy of the JSON (a bad list entry drops its whole list, so no
///    later problem is reported at a shifted index) and deserialisation is tried again, so
///    that a field the serde type rejects but the schema cannot describe (a URL that does not
///    parse) is reported too, and each such field is dropped in turn. This ends when the copy
///    deserialises or when what fails cannot be dropped (a required field, the config as a
///    whole).
/// 3. If a config could be deserialised, [`validate`](ConnectorConfig::validate) runs on it
///    and its problems are added, except those about a dropped field, a field inside one, or
///    an object around one: those may only say that the field is now absent (the schema's
///    "is required" and `validate`'s "`token` is required for bearer auth" are the same
///    problem).
///
/// Dropped fields stand in for their defaults only to find more problems: a config with any
/// problem is never returned. `validate` cannot run when a required field is missing or
/// unusable (there is no config to run it on); the structural problems are then reported
/// alone, and `validate`'s follow once they are fixed.
///
/// # Errors
/// [`ErrorKind::Config`](crate::ErrorKind::Config) listing every problem by field path:
/// structural problems first, in document order, then `validate`'s.
pub fn parse<C: ConnectorConfig>(mut value: Value) -> Result<Parsed<C>> {
    let schema = schema_of::<C>();
    let mut found = lenient::Findings::default();
    lenient::normalise(&schema, &mut value, &mut found);
    let mut problems = found.problems;
    check_value(&schema, &schema, &value, &[], &mut problems);
    for problem in &mut problems {
        if problem.message == REQUIRED && found.blanked.contains(&problem.at) {
            problem.message = format!("{REQUIRED}; it was given empty");
        }
    }
    let mut ignored: Vec<Ignored> = found
        .ignored
        .into_iter()
        .map(|(path, reason)| Ignored { path, reason })
        .collect();
    let renamed = found.renamed;
    // Where each problem is, cut to a field that can be dropped from the JSON.
    let mut dropped: Vec<Vec<Step>> = problems.iter().map(|p| droppable(&p.at)).collect();
    let mut repaired = Cow::Borrowed(&value);
    if !dropped.is_empty() {
        let copy = repaired.to_mut();
        for at in &dropped {
            drop_field(copy, at);
        }
    }
    let mut config = None;
    // Each round drops one more field, so the rounds are bounded by the config's size; the
    // cap only bounds the work a huge hostile config can cause.
    for _ in 0..MAX_REPAIRS {
        match serde_path_to_error::deserialize::<_, C>(repaired.as_ref()) {
            Ok(parsed) => {
                config = Some(parsed);
                break;
            }
            Err(e) => {
                let at = steps(e.path());
                // A "missing field" on an object we took a field out of is our doing, or
                // repeats a problem already reported.
                if !dropped.iter().any(|d| related(d, &at)) {
                    // serde's messages quote the value (`url`'s does: "invalid port number:
                    // \"https://user:pass@...\""); a URL's credentials and query stay out.
                    let message = match value_at(&value, &at) {
                        Some(Value::String(given)) => e
                            .into_inner()
                            .to_string()
                            .replace(given, &redact_text(given)),
                        _ => e.into_inner().to_string(),
                    };
                    problems.push(Problem {
                        at: at.clone(),
                        message,
                    });
                }
                let at = droppable(&at);
                if !drop_field(repaired.to_mut(), &at) {
                    break;
                }
                dropped.push(at);
            }
        }
    }
    let Some(config) = config else {
        return Err(config_error(into_field_errors(problems), &renamed));
    };
    let semantic = config.validate();
    if problems.is_empty() && semantic.is_empty() {
        ignored.extend(config.unused());
        return Ok(Parsed { config, ignored });
    }
    let dropped: Vec<String> = dropped.iter().map(|d| render(d)).collect();
    let mut out = into_field_errors(problems);
    out.extend(
        semantic
            .into_iter()
            .filter(|p| !dropped.iter().any(|d| related_path(d, &p.path))),
    );
    Err(config_error(out, &renamed))
}

/// The most problems one config error lists; a config with a 100,000-entry list of wrong
/// values gets the first ones and a count, not 100,000 lines.
const MAX_PROBLEMS: usize = 50;

/// The config error for `problems`, each naming the field as the user wrote it (an alias
/// rather than the field it stands for), at most [`MAX_PROBLEMS`] of them.
fn config_error(mut problems: Vec<FieldError>, renamed: &[(String, String)]) -> Error {
    for problem in &mut problems {
        for (field, given) in renamed {
            if let Some(rest) = problem.path.strip_prefix(field.as_str())
                && (rest.is_empty() || rest.starts_with(['.', '[']))
            {
                problem.path = format!("{given}{rest}");
                break;
            }
        }
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(FieldError::new("", format!("... and {more} more problems")));
    }
    Error::config(problems)
}

/// The value at `at` in `value`, if there is one.
fn value_at<'a>(value: &'a Value, at: &[Step]) -> Option<&'a Value> {
    at.iter().try_fold(value, |current, step| match step {
        Step::Key(key) => current.get(key.as_str()),
        Step::Index(i) => current.get(*i),
    })
}

/// Text that may be a URL, without what a URL can carry secretly: the user and password
/// before `@` and everything from `?` or `#` on (`https://u:p@h/x?key=k` is `https://h/x?…`).
fn redact_text(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    // Only a URL with `://` has a user before `@`; in `a@b.example` that is an address.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match (scheme, rest[..authority_end].rfind('@')) {
        (Some(_), Some(at)) => &rest[at + 1..],
        _ => rest,
    };
    let (rest, cut) = match rest.find(['?', '#']) {
        Some(i) => (&rest[..i], "?…"),
        None => (rest, ""),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}{cut}"),
        None => format!("{rest}{cut}"),
    }
}

/// The message of a required field that is missing.
const REQUIRED: &str = "is required";

/// Deserialisation attempts of one config, at most.
const MAX_REPAIRS: usize = 64;

/// One step from a value to a value inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A structural problem, located by steps so that its field can be dropped from the JSON.
#[derive(Debug)]
struct Problem {
    at: Vec<Step>,
    message: String,
}

impl Problem {
    fn new(at: &[Step], message: impl Into<String>) -> Self {
        Self {
            at: at.to_vec(),
            message: message.into(),
        }
    }
}

fn into_field_errors(problems: Vec<Problem>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|p| FieldError::new(render(&p.at), p.message))
        .collect()
}

/// The path of `at` as problems name fields: `credentials.token`, `include[1]`.
fn render(at: &[Step]) -> String {
    let mut out = String::new();
    for step in at {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// `at` plus one step.
fn child(at: &[Step], step: Step) -> Vec<Step> {
    let mut out = Vec::with_capacity(at.len() + 1);
    out.extend_from_slice(at);
    out.push(step);
    out
}

/// The steps of a serde error's path. A step serde could not name ends it there: the
/// problem is then somewhere inside the value named so far.
fn steps(path: &serde_path_to_error::Path) -> Vec<Step> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for segment in path {
        match segment {
            Segment::Map { key } => out.push(Step::Key(key.clone())),
            // An externally tagged enum in JSON is an object keyed by its variant.
            Segment::Enum { variant } => out.push(Step::Key(variant.clone())),
            Segment::Seq { index } => out.push(Step::Index(*index)),
            Segment::Unknown => break,
        }
    }
    out
}

/// The field to drop for a problem at `at`: `at` itself, or for a problem inside a list,
/// the whole list (dropping one entry would shift the indices later problems are named by).
fn droppable(at: &[Step]) -> Vec<Step> {
    let end = at
        .iter()
        .position(|s| matches!(s, Step::Index(_)))
        .unwrap_or(at.len());
    at[..end].to_vec()
}

/// Removes the field at `at` (object keys only). Returns whether something was removed.
fn drop_field(value: &mut Value, at: &[Step]) -> bool {
    let Some((Step::Key(last), parents)) = at.split_last() else {
        return false;
    };
    let mut current = value;
    for step in parents {
        let next = match (step, current) {
            (Step::Key(key), Value::Object(fields)) => fields.get_mut(key),
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return false,
        }
    }
    current
        .as_object_mut()
        .is_some_and(|fields| fields.remove(last).is_some())
}

/// Whether one location is the other or lies inside it.
fn related(a: &[Step], b: &[Step]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// [`related`] on rendered paths, the form [`ConnectorConfig::validate`] names fields in.
fn related_path(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        outer.is_empty()
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    inside(a, b) || inside(b, a)
}

/// Joins a parent path and a field name the way problems name fields.
pub fn join_path(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// A list of strings written as a JSON array or as one string of entries separated by commas
/// or line breaks, as RAGFlow's web form sends list fields from its text boxes: `"a, b"`,
/// `"a\nb"` and `["a", "b"]` are the same list.
///
/// Every entry is trimmed and blank entries are dropped, in both shapes (`" a,, b "` and
/// `["a", " ", null, "b"]` are `["a", "b"]`). It serialises as a JSON array of the cleaned
/// entries, and its JSON Schema accepts either shape.
///
/// ```
/// use connector_core::config::StringList;
///
/// let from_text: StringList = serde_json::from_value(serde_json::json!("a, b,,"))?;
/// let from_lines: StringList = serde_json::from_value(serde_json::json!("a\r\nb\n"))?;
/// assert_eq!(from_text, from_lines);
/// let from_array: StringList = serde_json::from_value(serde_json::json!([" a", "b", ""]))?;
/// assert_eq!(from_text, from_array);
/// assert_eq!(from_text.as_slice(), ["a", "b"]);
/// assert_eq!(serde_json::to_value(&from_text)?, serde_json::json!(["a", "b"]));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StringList(pub Vec<String>);

impl StringList {
    /// The entries.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The entries, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for StringList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Into<String>> FromIterator<S> for StringList {
    /// The entries as given: built in code, they are not trimmed or filtered.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl From<Vec<String>> for StringList {
    /// The entries as given: built in code, they are not trimmed or filtered.
    fn from(entries: Vec<String>) -> Self {
        Self(entries)
    }
}

impl<'a> IntoIterator for &'a StringList {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<Option<String>>),
        }
        let cleaned = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Self(match Raw::deserialize(deserializer)? {
            // RAGFlow's list fields are text boxes: entries come comma-separated or one per
            // line.
            Raw::One(s) => s.split([',', '\n', '\r']).filter_map(cleaned).collect(),
            // RAGFlow's `_normalize_list` drops `None` entries.
            Raw::Many(v) => v.iter().flatten().filter_map(|s| cleaned(s)).collect(),
        }))
    }
}

impl JsonSchema for StringList {
    fn schema_name() -> Cow<'static, str> {
        "StringList".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A JSON array of strings, or one string of entries separated by commas or line breaks.",
            "anyOf": [
                { "type": "array", "items": { "type": ["string", "null"] } },
                { "type": "string" }
            ]
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    // Bounded so a self-referencing schema cannot loop forever.
    for _ in 0..16 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        match root.pointer(pointer) {
            Some(target) => current = target,
            None => break,
        }
    }
    current
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    let actual = type_name(value);
    actual == expected || (expected == "number" && actual == "integer")
}

fn check_value(root: &Value, schema: &Value, value: &Value, at: &[Step], out: &mut Vec<Problem>) {
    let schema = resolve(root, schema);
    let Some(obj) = schema.as_object() else {
        return;
    };
    // A credential given with the wrong type must not be echoed back in the error.
    let secret = obj.get("writeOnly") == Some(&Value::Bool(true));
    let describe = |v: &Value| {
        if secret {
            type_name(v).to_owned()
        } else {
            describe(v)
        }
    };

    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = obj.get(key).and_then(Value::as_array) {
            let mut best: Option<Vec<Problem>> = None;
            for branch in branches {
                let mut found = Vec::new();
                check_value(root, branch, value, at, &mut found);
                if found.is_empty() {
                    best = None;
                    break;
                }
                if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                    best = Some(found);
                }
            }
            if let Some(found) = best {
                // One branch failing on a nested field is more useful than "matches nothing".
                let mut choices = Vec::new();
                lenient::constants(root, schema, &mut choices, 0);
                if found.len() == 1 && found[0].at != at {
                    out.extend(found);
                } else if let (Value::String(given), false) = (value, choices.is_empty()) {
                    out.push(Problem::new(at, not_one_of(given, &choices)));
                } else {
                    out.push(Problem::new(
                        at,
                        format!("{} does not match any allowed form", describe(value)),
                    ));
                }
                return;
            }
        }
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        for branch in all {
            check_value(root, branch, value, at, out);
        }
    }

    if let Some(types) = obj.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| type_matches(t, value)) {
            out.push(Problem::new(
                at,
                format!(
                    "expected {}, found {}",
                    allowed.join(" or "),
                    describe(value)
                ),
            ));
            return;
        }
    }
    if let Some(options) = obj.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let choices: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
        if let (Value::String(given), true) = (value, choices.len() == options.len()) {
            out.push(Problem::new(at, not_one_of(given, &choices)));
            return;
        }
        let names: Vec<String> = options.iter().map(Value::to_string).collect();
        out.push(Problem::new(
            at,
            format!("{} is not one of {}", describe(value), names.join(", ")),
        ));
        return;
    }
    if let Some(expected) = obj.get("const")
        && expected != value
    {
        out.push(Problem::new(at, format!("must be {expected}")));
        return;
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = obj.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            out.push(Problem::new(
                at,
                format!("must be at least {min}, found {n}"),
            ));
        }
        if let Some(max) = obj.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            out.push(Problem::new(
                at,
                format!("must be at most {max}, found {n}"),
            ));
        }
    }
    match value {
        Value::Object(fields) => check_object(root, obj, fields, at, out),
        Value::Array(items) => {
            if let Some(item_schema) = obj.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_value(root, item_schema, item, &child(at, Step::Index(i)), out);
                }
            }
        }
        Value::String(s) => {
            if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
                && (s.chars().count() as u64) < min
            {
                out.push(Problem::new(
                    at,
                    format!(
                        "{} must not be shorter than {min} characters",
                        if at.is_empty() {
                            "config".to_owned()
                        } else {
                            render(at)
                        }
                    ),
                ));
            }
        }
        _ => {}
    }
}

fn check_object(
    root: &Value,
    obj: &Map<String, Value>,
    fields: &Map<String, Value>,
    at: &[Step],
    out: &mut Vec<Problem>,
) {
    let properties = obj.get("properties").and_then(Value::as_object);
    if let Some(required) = obj.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                out.push(Problem::new(
                    &child(at, Step::Key(name.to_owned())),
                    REQUIRED,
                ));
            }
        }
    }
    for (name, field) in fields {
        let field_at = child(at, Step::Key(name.clone()));
        match properties.and_then(|p| p.get(name)) {
            Some(field_schema) => check_value(root, field_schema, field, &field_at, out),
            None => match obj.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let hint = closest(name, &known)
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    out.push(Problem::new(&field_at, format!("unknown field{hint}")));
                }
                Some(extra @ Value::Object(_)) => check_value(root, extra, field, &field_at, out),
                _ => {}
            },
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.len() <= 40 => format!("string {:?}", redact_text(s)),
        Value::Number(n) => format!("number {n}"),
        Value::Bool(b) => format!("boolean {b}"),
        other => type_name(other).to_owned(),
    }
}

/// "`spaces` is not one of ..." with the choices and, for a likely typo, the closest one.
fn not_one_of(given: &str, choices: &[&str]) -> String {
    let listed: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
    let hint = closest(&given.to_ascii_lowercase(), choices)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!(
        "`{}` is not one of {}{hint}",
        redact_text(given),
        listed.join(", ")
    )
}

/// The known name closest to `name` by edit distance, when it is close enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde::Deserialize;
    use std::num::NonZeroU32;

    #[allow(dead_code)] // Only parsed: the tests look at the errors.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Creds {
        access_key: String,
        secret: crate::Secret,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "snake_case")]
    enum Kind {
        S3,
        R2,
    }

    #[allow(dead_code)] // Only parsed: the tests look at the errors.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        bucket_name: String,
        #[serde(default)]
        prefix: Option<String>,
        bucket_type: Kind,
        #[serde(default)]
        batch_size: Option<NonZeroU32>,
        credentials: Creds,
        #[serde(default)]
        include: Vec<String>,
    }

    impl ConnectorConfig for Cfg {
        fn validate(&self) -> Vec<FieldError> {
            let mut out = Vec::new();
            if self.prefix.as_deref().is_some_and(|p| p.starts_with('/')) {
                out.push(FieldError::new("prefix", "must not start with `/`"));
            }
            out
        }
    }

    #[test]
    fn reports_every_schema_problem_by_path() {
        let json = serde_json::json!({
            "bucket_nme": "x",
            "bucket_type": "gcs",
            "batch_size": 0,
            "credentials": { "access_key": true },
            "include": ["a", false],
        });
        let err = from_json::<Cfg>(json).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "bucket_name",
            "bucket_nme",
            "bucket_type",
            "batch_size",
            "credentials.access_key",
            "credentials.secret",
            "include[1]",
        ] {
            assert!(
                paths.contains(&expected),
                "{expected} missing from {paths:?}: {err}"
            );
        }
        assert!(
            err.to_string().contains("did you mean `bucket_name`"),
            "{err}"
        );
    }

    #[test]
    fn validate_runs_after_parsing() {
        let json = serde_json::json!({
            "bucket_name": "x", "bucket_type": "s3", "prefix": "/a",
            "credentials": { "access_key": "k", "secret": "s" },
        });
        let err = from_json::<Cfg>(json).unwrap_err();
        assert_eq!(err.problems()[0].path, "prefix");
        let ok = serde_json::json!({
            "bucket_name": "x", "bucket_type": "r2", "batch_size": 5,
            "credentials": { "access_key": "k", "secret": "s" },
        });
        let cfg = from_json::<Cfg>(ok).unwrap();
        assert_eq!(cfg.batch_size.map(NonZeroU32::get), Some(5));
    }

    #[test]
    fn secret_not_echoed_in_type_errors() {
        let json = serde_json::json!({
            "bucket_name": "x", "bucket_type": "s3",
            "credentials": { "access_key": "k", "secret": { "pin": "12345678" } },
        });
        let err = from_json::<Cfg>(json).unwrap_err();
        assert!(
            err.problems()
                .iter()
                .any(|p| p.path == "credentials.secret"),
            "{err}"
        );
        assert!(!err.to_string().contains("12345678"), "{err}");
    }

    /// A config whose `validate` has something to say about most fields, to show that its
    /// problems are reported together with the structural ones.
    #[allow(dead_code)] // Only parsed: the tests look at the errors.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Paged {
        path: String,
        #[serde(default)]
        page_size: Option<u32>,
        #[serde(default)]
        base_url: Option<url::Url>,
        #[serde(default)]
        auth: Option<Auth>,
        #[serde(default)]
        globs: Vec<String>,
        #[serde(default)]
        token: Option<String>,
    }

    #[allow(dead_code)] // Only parsed: the tests look at the errors.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Auth {
        user: String,
        #[serde(default)]
        token: Option<String>,
    }

    impl ConnectorConfig for Paged {
        fn validate(&self) -> Vec<FieldError> {
            let mut out = Vec::new();
            if self.path.starts_with('/') {
                out.push(FieldError::new("path", "must be relative"));
            }
            if self.page_size == Some(0) {
                out.push(FieldError::new("page_size", "must be at least 1"));
            }
            if let Some(auth) = &self.auth
                && auth.token.is_none()
            {
                out.push(FieldError::new("auth.token", "is required with `auth`"));
            }
            if self.auth.is_none() && self.token.is_none() {
                out.push(FieldError::new("auth", "give `auth` or `token`"));
            }
            for (i, glob) in self.globs.iter().enumerate() {
                if glob.contains('[') {
                    out.push(FieldError::new(format!("globs[{i}]"), "does not compile"));
                }
            }
            out
        }
    }

    fn problems(json: Value) -> Vec<String> {
        let err = from_json::<Paged>(json).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        err.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn validate_runs_beside_an_unknown_field() {
        let got = problems(serde_json::json!({
            "path": "x", "page_size": 0, "pag_size": 1, "bogus": 1, "token": "t",
        }));
        assert_eq!(
            got,
            [
                "bogus: unknown field",
                "pag_size: unknown field (did you mean `page_size`?)",
                "page_size: must be at least 1",
            ]
        );
    }

    #[test]
    fn validate_runs_beside_wrong_types_and_values_serde_rejects() {
        let got = problems(serde_json::json!({
            "path": "/abs", "page_size": "ten", "base_url": "not a url", "token": "t",
            "bogus": true,
        }));
        assert_eq!(
            got,
            [
                "bogus: unknown field",
                "page_size: expected integer or null, found string \"ten\"",
                "base_url: relative URL without a base: \"not a url\"",
                "path: must be relative",
            ]
        );
    }

    #[test]
    fn a_dropped_field_is_not_reported_again_by_validate() {
        // `auth.token` has the wrong type: validate would say it is missing.
        let got = problems(serde_json::json!({
            "path": "x", "page_size": 0, "auth": { "user": "u", "token": true },
        }));
        assert_eq!(
            got,
            [
                "auth.token: expected string or null, found boolean true",
                "page_size: must be at least 1",
            ]
        );
        // `auth.user` is missing: `auth` is dropped, and validate's complaint that neither
        // `auth` nor `token` is given is about the dropped object.
        let got = problems(serde_json::json!({ "path": "x", "page_size": 0, "auth": {} }));
        assert_eq!(
            got,
            ["auth.user: is required", "page_size: must be at least 1"]
        );
    }

    #[test]
    fn a_bad_list_entry_drops_the_list_so_no_index_shifts() {
        // Were only `globs[0]` dropped, validate would name `globs[1]` for the entry at 2.
        let got = problems(serde_json::json!({
            "path": "x", "token": "t", "globs": [true, "ok", "a["], "page_size": 0,
        }));
        assert_eq!(
            got,
            [
                "globs[0]: expected string, found boolean true",
                "page_size: must be at least 1",
            ]
        );
    }

    #[test]
    fn a_missing_required_field_leaves_validate_out() {
        // There is no config to run validate on without `path`: only the structural
        // problems are reported, and nothing is said twice.
        let got = problems(serde_json::json!({ "page_size": 0, "bogus": 1 }));
        assert_eq!(got, ["path: is required", "bogus: unknown field"]);
        let got = problems(serde_json::json!({ "path": false, "page_size": 0 }));
        assert_eq!(got, ["path: expected string, found boolean false"]);
        let got = problems(serde_json::json!([1]));
        assert_eq!(got, ["expected object, found array"]);
    }

    #[test]
    fn a_valid_config_still_parses() {
        let cfg = from_json::<Paged>(serde_json::json!({
            "path": "x", "page_size": 5, "base_url": "https://x.example/", "globs": ["*.md"],
            "auth": { "user": "u", "token": "t" },
        }))
        .unwrap();
        assert_eq!(cfg.page_size, Some(5));
        assert_eq!(
            problems(serde_json::json!({ "path": "x", "page_size": 0, "token": "t" })),
            ["page_size: must be at least 1"]
        );
    }

    #[allow(dead_code)] // Only parsed: the tests look at the lists.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Lists {
        #[serde(default)]
        emails: StringList,
    }

    impl ConnectorConfig for Lists {}

    #[test]
    fn string_list_accepts_an_array_or_a_comma_separated_string() {
        let parse = |v: Value| serde_json::from_value::<StringList>(v).unwrap();
        let want = ["a@x.org", "b@x.org"];
        assert_eq!(
            parse(serde_json::json!("a@x.org, b@x.org")).as_slice(),
            want
        );
        assert_eq!(
            parse(serde_json::json!(" a@x.org,,b@x.org , ")).as_slice(),
            want
        );
        assert_eq!(
            parse(serde_json::json!(["a@x.org ", "", " b@x.org"])).as_slice(),
            want
        );
        // A comma inside an array entry is kept: only the string shape is split.
        assert_eq!(parse(serde_json::json!(["a,b"])).as_slice(), ["a,b"]);
        assert!(parse(serde_json::json!("")).is_empty());
        assert!(parse(serde_json::json!([])).is_empty());
        assert!(serde_json::from_value::<StringList>(serde_json::json!(5)).is_err());
        assert!(serde_json::from_value::<StringList>(serde_json::json!([1])).is_err());
    }

    #[test]
    fn string_list_round_trips_as_an_array() {
        let list: StringList = ["a", "b"].into_iter().collect();
        assert_eq!(list.len(), 2);
        assert_eq!(list.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!((&list).into_iter().count(), 2);
        assert_eq!(format!("{list:?}"), r#"["a", "b"]"#);
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json, serde_json::json!(["a", "b"]));
        assert_eq!(serde_json::from_value::<StringList>(json).unwrap(), list);
        assert_eq!(StringList::from(vec![" a ".to_owned()]).as_slice(), [" a "]);
    }

    #[test]
    fn string_list_schema_takes_both_shapes_and_names_bad_entries() {
        let schema = schema_of::<Lists>();
        let field = &schema["properties"]["emails"];
        assert_eq!(field["anyOf"][0]["type"], "array");
        assert_eq!(field["anyOf"][1]["type"], "string");
        from_json::<Lists>(serde_json::json!({ "emails": "a, b" })).unwrap();
        from_json::<Lists>(serde_json::json!({ "emails": ["a"] })).unwrap();
        let err = from_json::<Lists>(serde_json::json!({ "emails": ["a", {}] })).unwrap_err();
        assert_eq!(err.problems()[0].path, "emails[1]", "{err}");
        let err = from_json::<Lists>(serde_json::json!({ "emails": true })).unwrap_err();
        assert_eq!(err.problems()[0].path, "emails", "{err}");
    }

    /// A config with RAGFlow's shapes: a field with another name, one the config ignores,
    /// numbers and booleans, a nested credentials object, a choice.
    #[allow(dead_code)] // Only parsed: the tests look at the values.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Rag {
        base_url: String,
        #[serde(default)]
        project_key: Option<String>,
        #[serde(default)]
        attachment_size_limit: Option<u64>,
        #[serde(default)]
        timezone_offset: Option<f64>,
        #[serde(default = "yes")]
        include_comments: bool,
        #[serde(default)]
        scoped_token: bool,
        #[serde(default)]
        page_id: Option<String>,
        #[serde(default)]
        mode: Mode,
        #[serde(default)]
        labels: StringList,
        #[serde(default)]
        credentials: RagCreds,
        #[serde(default)]
        batch_size: Option<u32>,
    }

    fn yes() -> bool {
        true
    }

    #[derive(Debug, Default, Deserialize, JsonSchema, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        #[default]
        Everything,
        /// One space.
        Space,
    }

    #[allow(dead_code)] // Only parsed: the tests look at the values.
    #[derive(Debug, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct RagCreds {
        #[serde(default)]
        #[schemars(extend("x-aliases" = ["jira_username", "username"]))]
        jira_user_email: Option<String>,
        #[serde(default)]
        #[schemars(extend("x-aliases" = ["token", "api_token"]))]
        jira_api_token: Option<crate::Secret>,
    }

    impl ConnectorConfig for Rag {
        const IGNORED: &'static [IgnoredField] =
            &[IgnoredField::new("space", "only `mode: space` reads it")];
    }

    #[test]
    fn a_ragflow_form_config_is_read_as_ragflow_reads_it() {
        let parsed = parse::<Rag>(serde_json::json!({
            "base_url": "https://x.example",
            "project_key": "",
            "attachment_size_limit": " 1_048_576 ",
            "timezone_offset": "+8",
            "include_comments": "False",
            "scoped_token": 1,
            "page_id": 12345,
            "mode": "Space",
            "labels": "",
            "batch_size": "2",
            "sync_batch_size": 5,
            "space": "ENG",
            "credentials": {
                "jira_username": "me@x.example",
                "jira_user_email": "",
                "token": "t0ken",
                "authentication_method": "api_token",
            },
        }))
        .unwrap();
        let c = &parsed.config;
        assert_eq!(c.project_key, None);
        assert_eq!(c.attachment_size_limit, Some(1_048_576));
        assert_eq!(c.timezone_offset, Some(8.0));
        assert!(!c.include_comments);
        assert!(c.scoped_token);
        assert_eq!(c.page_id.as_deref(), Some("12345"));
        assert_eq!(c.mode, Mode::Space);
        assert!(c.labels.is_empty());
        // Declared by the config, so used rather than ignored.
        assert_eq!(c.batch_size, Some(2));
        assert_eq!(
            c.credentials.jira_user_email.as_deref(),
            Some("me@x.example")
        );
        assert_eq!(
            c.credentials.jira_api_token.as_ref().map(|s| s.expose()),
            Some("t0ken")
        );
        let ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            ignored,
            [
                "space",
                "sync_batch_size",
                "credentials.authentication_method"
            ]
        );
    }

    #[test]
    fn leniency_stops_where_ragflow_would_fail_too() {
        let err = parse::<Rag>(serde_json::json!({
            "base_url": "  ",
            "attachment_size_limit": "1.5",
            "include_comments": "perhaps",
            "scoped_token": 2,
            "mode": "spaces",
            "bsae_url": "x",
            "credentials": { "username": "a", "jira_user_email": "b", "tokn": "t" },
        }))
        .unwrap_err();
        let got: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "base_url: is required; it was given empty",
                "attachment_size_limit: expected integer or null, found string \"1.5\"",
                "bsae_url: unknown field (did you mean `base_url`?)",
                "credentials.tokn: unknown field (did you mean `token`?)",
                "include_comments: expected boolean, found string \"perhaps\"",
                "mode: `spaces` is not one of `everything`, `space` (did you mean `space`?)",
                "scoped_token: expected boolean, found number 2",
            ]
        );
        // The same value under both names is one value.
        let same = parse::<Rag>(serde_json::json!({
            "base_url": "u", "credentials": { "username": "a", "jira_user_email": "a" },
        }))
        .unwrap();
        assert!(same.ignored.is_empty());
        // Different values: the field wins, then the aliases in their order, as RAGFlow's
        // `get(field) or get(alias)`; what lost is said.
        let two = parse::<Rag>(serde_json::json!({
            "base_url": "u",
            "credentials": { "jira_username": "b", "username": "c", "jira_user_email": "a" },
        }))
        .unwrap();
        assert_eq!(two.config.credentials.jira_user_email.as_deref(), Some("a"));
        let lost: Vec<&str> = two.ignored.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(lost, ["credentials.jira_username", "credentials.username"]);
        assert!(two.ignored[0].reason.contains("wins"), "{}", two.ignored[0]);
        let alias_first = parse::<Rag>(serde_json::json!({
            "base_url": "u", "credentials": { "username": "c", "jira_username": "b" },
        }))
        .unwrap();
        assert_eq!(
            alias_first.config.credentials.jira_user_email.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn sound_declarations_have_no_problems_and_bad_ones_are_named() {
        assert!(declaration_problems::<Rag>().is_empty());

        #[allow(dead_code)] // Only its schema is looked at.
        #[derive(Deserialize, JsonSchema)]
        struct Bad {
            name: String,
            #[schemars(extend("x-aliases" = ["name"]))]
            title: String,
        }
        impl ConnectorConfig for Bad {
            const IGNORED: &'static [IgnoredField] = &[
                IgnoredField::new("name", "x"),
                IgnoredField::new("credentials.token", "x"),
            ];
        }
        assert_eq!(
            declaration_problems::<Bad>(),
            [
                "IGNORED names `name`, a field the config declares (and so uses)",
                "IGNORED names `credentials.token`, but the config has no object `credentials`",
                "`name` is declared as another name of `title` and is a field too",
            ]
        );
    }

    #[test]
    fn the_schema_lists_aliases_and_ignored_fields() {
        let schema = schema_of::<Rag>();
        let root = &schema["properties"];
        assert_eq!(root["space"]["x-ignored"], "only `mode: space` reads it");
        assert!(root["sync_batch_size"]["x-ignored"].is_string());
        // Declared, so not marked ignored.
        assert!(root["batch_size"].get("x-ignored").is_none());
        let creds = &schema["$defs"]["RagCreds"]["properties"];
        assert_eq!(creds["jira_username"]["x-alias-of"], "jira_user_email");
        assert_eq!(creds["api_token"]["x-alias-of"], "jira_api_token");
        assert_eq!(creds["api_token"]["writeOnly"], true);
        assert!(creds["authentication_method"]["x-ignored"].is_string());
    }

    /// A config with the review's shapes: a URL, a map of fixed choices, a number where zero
    /// means the default, a list, an aliased field and a field some modes leave unused.
    #[allow(dead_code)] // Only parsed: the tests look at the values.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Review {
        #[serde(default)]
        url: Option<url::Url>,
        #[serde(default)]
        hints: std::collections::BTreeMap<String, Mode>,
        #[serde(default)]
        #[schemars(extend("x-default-unless-positive" = true))]
        limit: Option<u64>,
        #[serde(default)]
        labels: StringList,
        #[serde(default)]
        #[schemars(extend("x-aliases" = ["username"]))]
        user: Option<String>,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        space: Option<String>,
        #[serde(default)]
        mode: Mode,
    }

    impl ConnectorConfig for Review {
        const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
            "credentials.authentication_method",
            "not read here",
        )];

        fn validate(&self) -> Vec<FieldError> {
            match &self.user {
                Some(user) if user.contains(' ') => {
                    vec![FieldError::new("user", "must not contain spaces")]
                }
                _ => Vec::new(),
            }
        }

        fn unused(&self) -> Vec<Ignored> {
            match (&self.mode, &self.space) {
                (Mode::Everything, Some(_)) => vec![Ignored::new("space", "mode is everything")],
                _ => Vec::new(),
            }
        }
    }

    fn review(json: Value) -> std::result::Result<Parsed<Review>, Vec<String>> {
        parse::<Review>(json).map_err(|e| e.problems().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn url_values_in_errors_lose_their_credentials_and_query() {
        let got = review(serde_json::json!({ "url": "https://svc:hunter2@h.example:99999/v1" }))
            .unwrap_err();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(!got[0].contains("hunter2"), "{got:?}");
        assert!(got[0].contains("https://h.example:99999/v1"), "{got:?}");
        let got = review(serde_json::json!({ "url": "h.example/v1?api_key=hunter2" })).unwrap_err();
        assert!(!got[0].contains("hunter2"), "{got:?}");
        assert_eq!(redact_text("https://u:p@h/x?key=k#f"), "https://h/x?…");
        assert_eq!(redact_text("h/x?key=k"), "h/x?…");
        assert_eq!(redact_text("plain"), "plain");
        assert_eq!(redact_text("mailto:a@b"), "mailto:a@b");
        assert_eq!(redact_text("me@x.example"), "me@x.example");
    }

    #[test]
    fn map_entries_are_read_like_fields() {
        let parsed = review(serde_json::json!({
            "hints": { "a": "Space", "b": "", "c": "everything" },
        }))
        .unwrap();
        let hints: Vec<(&str, &Mode)> = parsed
            .config
            .hints
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        assert_eq!(hints, [("a", &Mode::Space), ("c", &Mode::Everything)]);
    }

    #[test]
    fn zero_or_less_means_the_default_where_ragflow_reads_it_so() {
        for given in [
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!("0"),
        ] {
            let parsed = review(serde_json::json!({ "limit": given })).unwrap();
            assert_eq!(parsed.config.limit, None);
        }
        assert_eq!(
            review(serde_json::json!({ "limit": "7" }))
                .unwrap()
                .config
                .limit,
            Some(7)
        );
        assert!(review(serde_json::json!({ "limit": "many" })).is_err());
    }

    #[test]
    fn lists_split_on_lines_and_drop_nulls() {
        let parsed = review(serde_json::json!({ "labels": "a\nb, c\r\n" })).unwrap();
        assert_eq!(parsed.config.labels.as_slice(), ["a", "b", "c"]);
        let parsed = review(serde_json::json!({ "labels": ["a", null, " "] })).unwrap();
        assert_eq!(parsed.config.labels.as_slice(), ["a"]);
    }

    #[test]
    fn a_problem_names_the_field_as_the_user_wrote_it() {
        let got = review(serde_json::json!({ "username": ["me"] })).unwrap_err();
        assert_eq!(got, ["username: expected string or null, found array"]);
        // validate's problems too.
        let got = review(serde_json::json!({ "username": "a b" })).unwrap_err();
        assert_eq!(got, ["username: must not contain spaces"]);
    }

    #[test]
    fn a_choice_typo_lists_the_choices_and_the_closest() {
        let got = review(serde_json::json!({ "hints": { "a": "spaces" } })).unwrap_err();
        assert_eq!(
            got,
            ["hints.a: `spaces` is not one of `everything`, `space` (did you mean `space`?)"]
        );
    }

    #[test]
    fn a_float_is_not_turned_into_text() {
        let got = review(serde_json::json!({ "title": 99999999999999999999999.0 })).unwrap_err();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            review(serde_json::json!({ "title": 12345 }))
                .unwrap()
                .config
                .title
                .as_deref(),
            Some("12345")
        );
    }

    #[test]
    fn fields_left_unused_by_other_settings_are_reported() {
        let parsed = review(serde_json::json!({ "space": "ENG" })).unwrap();
        let ignored: Vec<String> = parsed.ignored.iter().map(ToString::to_string).collect();
        assert_eq!(
            ignored,
            ["`space` is accepted for RAGFlow compatibility and ignored: mode is everything"]
        );
        assert!(
            review(serde_json::json!({ "space": "ENG", "mode": "space" }))
                .unwrap()
                .ignored
                .is_empty()
        );
    }

    #[test]
    fn values_the_form_always_sends_get_no_note_and_own_reasons_win() {
        let parsed = review(serde_json::json!({
            "sync_deleted_files": false, "batch_size": 2, "sync_batch_size": 2,
        }))
        .unwrap();
        let paths: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["sync_batch_size"]);
        let parsed = review(serde_json::json!({ "sync_deleted_files": "True" })).unwrap();
        assert_eq!(parsed.ignored.len(), 1);
        // A config's own reason for a generic knob wins over the generic one.
        let schema = schema_of::<Rag>();
        assert!(
            schema["$defs"]["RagCreds"]["properties"]["authentication_method"]["x-ignored"]
                .as_str()
                .is_some_and(|r| r.contains("credentials given"))
        );
    }

    #[test]
    fn a_config_error_lists_at_most_fifty_problems() {
        let many: Vec<Value> = (0..200).map(|_| serde_json::json!({})).collect();
        let err = parse::<Lists>(serde_json::json!({ "emails": many })).unwrap_err();
        assert!(
            err.problems().len() <= MAX_PROBLEMS + 1,
            "{}",
            err.problems().len()
        );
    }
}
