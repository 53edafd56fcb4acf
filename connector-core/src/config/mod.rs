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
//! - every integer field: the largest value the code honours,
//!   `#[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]` (the shared
//!   bounds are in [`limits`]), so a hostile number is refused when the config is read.
//!
//! It stays strict about everything else: an unknown field is still an error, with a "did you
//! mean" hint for a likely typo.
//!
//! Value shapes that several connectors' configs share live here too: [`StringList`], the
//! list RAGFlow's web form sends either as a JSON array or as one string of entries.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, FieldError, Result};
use crate::net::NetworkPolicy;

mod check;
mod lenient;
pub mod limits;
mod string_list;

use check::check_value;
pub use string_list::StringList;

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

    /// Takes the host's network policy (see [`NetworkPolicy`]), which replaces the
    /// connector's own (for a connector whose URL a tenant sets, that is
    /// [`NetworkPolicy::for_tenant`]: public addresses plus the config's `allowed_hosts`).
    /// The connector builds every HTTP client with it
    /// ([`HttpClientBuilder::network_policy`]), token endpoints included. Returns whether this
    /// connector honours it; the default does not and returns `false`, and a
    /// [`Registry`](crate::Registry) with a guarding policy then refuses to build the
    /// connector rather than let it reach addresses the host denies.
    ///
    /// A config keeps it in a field skipped by serde and the schema
    /// (`#[serde(skip)] #[schemars(skip)] host_network: Option<NetworkPolicy>`) and builds
    /// its clients with `NetworkPolicy::for_tenant(self.host_network.as_ref(),
    /// &self.allowed_hosts)`.
    ///
    /// [`HttpClientBuilder::network_policy`]: crate::http::HttpClientBuilder::network_policy
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        let _ = policy;
        false
    }

    /// A host migrating from RAGFlow ([`Registry::set_ragflow_ids`](crate::Registry::set_ragflow_ids))
    /// asks for RAGFlow's document ids where this config does not choose an id scheme itself.
    /// A connector whose default ids differ from RAGFlow's (ids that survive renames, where
    /// RAGFlow names documents by URL) switches to RAGFlow's; an explicit choice in the config
    /// stays. The default does nothing: the connector's ids already are RAGFlow's, or it has
    /// no other.
    fn use_ragflow_ids(&mut self) {}
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
        "the overlap between incremental windows is the sync's `SyncOptions::overlap`, \
         widened by the source's own lag allowance where it has one",
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
pub fn parse<C: ConnectorConfig>(value: Value) -> Result<Parsed<C>> {
    parse_with::<C>(&schema_of::<C>(), value)
}

/// [`parse`] with `schema`, which must be [`schema_of::<C>`](schema_of): for a caller that
/// keeps the schema (the registry makes it once per source, not once per config read).
pub(crate) fn parse_with<C: ConnectorConfig>(
    schema: &Value,
    mut value: Value,
) -> Result<Parsed<C>> {
    let mut found = lenient::Findings::default();
    lenient::normalise(schema, &mut value, &mut found);
    let mut problems = found.problems;
    check_value(schema, schema, &value, &[], &mut problems);
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
pub(super) fn redact_text(text: &str) -> String {
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

#[cfg(test)]
mod tests;
