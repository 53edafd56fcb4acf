//! Reading a config as RAGFlow sends it: blanks, scalars as strings, aliases, ignored knobs.
//!
//! RAGFlow stores a connector's config as the JSON its web form or API client sent, and reads
//! it with `conf.get("x") or default`: a field left blank in the form arrives as `""` and means
//! "not set", a number typed into a text box arrives as `"2"` and goes through `int()`, a field
//! has several names (`jira_username` or `jira_user_email`), and generic knobs such as
//! `sync_batch_size` sit next to every source's fields. [`normalise`] rewrites a config's JSON
//! into the shape its serde type expects, guided by the config's JSON Schema, *before* the
//! schema check and deserialisation in [`super::parse`], so that every connector gets the same
//! rules and none has to spell them out. Nothing outside what the schema describes is touched:
//! an unknown field is left in place to be reported ("unknown field, did you mean ...").

use serde_json::{Map, Number, Value};

use super::check::resolve;
use super::{Problem, Step, child, render};

/// The schema extension keyword naming a field's other names: `"x-aliases": ["jira_username"]`.
pub(super) const ALIASES: &str = "x-aliases";
/// The schema extension keyword on an alias property, naming the field it stands for.
pub(super) const ALIAS_OF: &str = "x-alias-of";
/// The schema extension keyword on an accepted-and-ignored property, giving the reason.
pub(super) const IGNORED: &str = "x-ignored";
/// The schema extension keyword listing values of an ignored property not worth a note (what
/// RAGFlow's form always sends, which changes nothing here either).
pub(super) const QUIET: &str = "x-ignored-quiet";
/// The schema extension keyword marking a number field where RAGFlow reads a value of zero or
/// less as "use the default" (`if limit and limit > 0`): such a value is absent here too.
pub(super) const DEFAULT_UNLESS_POSITIVE: &str = "x-default-unless-positive";

/// What normalising a config found besides the rewritten JSON.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Fields given, accepted and ignored: (path, reason).
    pub ignored: Vec<(String, String)>,
    /// Problems only this pass can see (none yet: kept so the rules can grow one).
    pub problems: Vec<Problem>,
    /// Fields that were given blank and removed, so that "is required" can say so.
    pub blanked: Vec<Vec<Step>>,
    /// Fields given under another name: (the field's path, the name given), so that problems
    /// name what the user wrote.
    pub renamed: Vec<(String, String)>,
}

/// Rewrites `value` in place as described in the module docs.
pub(super) fn normalise(root: &Value, value: &mut Value, found: &mut Findings) {
    walk(root, root, value, &[], found, 0);
}

/// Schemas nest far less deeply than this; the bound only stops a hostile config.
const MAX_DEPTH: usize = 32;

fn walk(
    root: &Value,
    schema: &Value,
    value: &mut Value,
    at: &[Step],
    found: &mut Findings,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(root, schema);
    match value {
        Value::Object(fields) => {
            if let Some(properties) = properties(root, schema) {
                object(root, properties, fields, at, found, depth);
            } else if let Some(values) = map_values(root, schema) {
                map(root, values, fields, at, found, depth);
            }
        }
        Value::Array(entries) => {
            if let Some(item_schema) = items(root, schema) {
                for (i, item) in entries.iter_mut().enumerate() {
                    let at = child(at, Step::Index(i));
                    walk(root, item_schema, item, &at, found, depth + 1);
                }
            }
        }
        scalar => coerce(root, schema, scalar),
    }
}

fn object(
    root: &Value,
    properties: &Map<String, Value>,
    fields: &mut Map<String, Value>,
    at: &[Step],
    found: &mut Findings,
    depth: usize,
) {
    // Aliases first: a blank canonical field next to a filled alias takes the alias's value.
    for (name, property) in properties {
        for alias in names_in(property.get(ALIASES)) {
            let Some(given) = fields.remove(alias) else {
                continue;
            };
            if is_blank(&given) {
                continue;
            }
            match fields.get(name) {
                // RAGFlow reads `conf.get(field) or conf.get(alias)`: the first name given
                // wins, and a different value under a later name is not used. Said, since a
                // user who filled in both meant one of them.
                Some(existing) if !is_blank(existing) => {
                    if *existing != given {
                        found.ignored.push((
                            render(&child(at, Step::Key(alias.to_owned()))),
                            format!(
                                "it is another name for `{}`, which is given with another \
                                 value and wins, as in RAGFlow",
                                render(&child(at, Step::Key(name.clone())))
                            ),
                        ));
                    }
                }
                _ => {
                    fields.insert(name.clone(), given);
                    found.renamed.push((
                        render(&child(at, Step::Key(name.clone()))),
                        render(&child(at, Step::Key(alias.to_owned()))),
                    ));
                }
            }
        }
    }
    let blank: Vec<String> = fields
        .iter()
        .filter(|(name, value)| properties.contains_key(*name) && is_blank(value))
        .map(|(name, _)| name.clone())
        .collect();
    for name in blank {
        fields.remove(&name);
        found.blanked.push(child(at, Step::Key(name)));
    }
    for (name, property) in properties {
        let flagged = resolve(root, property)
            .get(DEFAULT_UNLESS_POSITIVE)
            .or_else(|| property.get(DEFAULT_UNLESS_POSITIVE));
        if flagged == Some(&Value::Bool(true)) && fields.get(name).is_some_and(|v| !is_positive(v))
        {
            fields.remove(name);
        }
    }
    for (name, property) in properties {
        let Some(reason) = property.get(IGNORED).and_then(Value::as_str) else {
            continue;
        };
        let Some(given) = fields.remove(name) else {
            continue;
        };
        if !names_in(property.get(QUIET)).any(|quiet| same_text(&given, quiet)) {
            found.ignored.push((
                render(&child(at, Step::Key(name.clone()))),
                reason.to_owned(),
            ));
        }
    }
    for (name, value) in fields.iter_mut() {
        if let Some(property) = properties.get(name) {
            let at = child(at, Step::Key(name.clone()));
            walk(root, property, value, &at, found, depth + 1);
        }
    }
}

/// The entries of a map (an object whose schema gives `additionalProperties`, such as
/// `{path: "number"}` hints): a blank entry whose schema has fixed choices (none of them blank)
/// is dropped, as RAGFlow drops what it cannot use, and every other entry is read like a field.
fn map(
    root: &Value,
    values: &Value,
    fields: &mut Map<String, Value>,
    at: &[Step],
    found: &mut Findings,
    depth: usize,
) {
    let mut choices = Vec::new();
    constants(root, values, &mut choices, 0);
    if !choices.is_empty() && !choices.iter().any(|c| c.trim().is_empty()) {
        fields.retain(|_, value| !is_blank(value));
    }
    for (name, value) in fields.iter_mut() {
        let at = child(at, Step::Key(name.clone()));
        walk(root, values, value, &at, found, depth + 1);
    }
}

/// The schema of a map's values, when the schema describes a map (or an `anyOf` with one).
fn map_values<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let own = |s: &'a Value| s.get("additionalProperties").filter(|v| v.is_object());
    if let Some(values) = own(schema) {
        return Some(values);
    }
    let mut maps = branches(root, schema).filter_map(own);
    let first = maps.next()?;
    maps.next().is_none().then_some(first)
}

/// Whether a value is a number (or a number as text) above zero; anything else a
/// [`DEFAULT_UNLESS_POSITIVE`] field reads as "use the default".
fn is_positive(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| f > 0.0),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) => f > 0.0,
            // Not a number at all: kept, so the type check names it.
            Err(_) => true,
        },
        _ => true,
    }
}

/// Whether `value` is `text` as a form would send it: a string equal to it (ignoring case and
/// surrounding space), or a number or boolean written so.
fn same_text(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s.trim().eq_ignore_ascii_case(text),
        Value::Number(_) | Value::Bool(_) => {
            serde_json::from_str::<Value>(text).is_ok_and(|written| written == *value)
        }
        _ => false,
    }
}

/// Whether a value means "not set" to RAGFlow's `conf.get(x) or default`.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn names_in(list: Option<&Value>) -> impl Iterator<Item = &str> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The branches of `anyOf`/`oneOf`, resolved.
fn branches<'a>(root: &'a Value, schema: &'a Value) -> impl Iterator<Item = &'a Value> {
    ["anyOf", "oneOf"]
        .into_iter()
        .filter_map(|key| schema.get(key).and_then(Value::as_array))
        .flatten()
        .map(|branch| resolve(root, branch))
}

/// The properties an object value is read with: the schema's own, or those of the one
/// object-shaped branch of an `anyOf` (an `Option<Struct>` is `anyOf: [struct, null]`).
/// Several object branches (a tagged enum) are ambiguous and left alone.
fn properties<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Map<String, Value>> {
    if let Some(own) = schema.get("properties").and_then(Value::as_object) {
        return Some(own);
    }
    let mut objects = branches(root, schema).filter_map(|b| b.get("properties")?.as_object());
    let first = objects.next()?;
    objects.next().is_none().then_some(first)
}

/// The schema of an array's items, likewise.
fn items<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    if let Some(own) = schema.get("items") {
        return Some(own);
    }
    let mut lists = branches(root, schema).filter_map(|b| b.get("items"));
    let first = lists.next()?;
    lists.next().is_none().then_some(first)
}

/// The JSON types a schema accepts, as far as it says.
#[derive(Debug, Default, Clone, Copy)]
struct Types {
    string: bool,
    integer: bool,
    number: bool,
    boolean: bool,
    other: bool,
}

impl Types {
    fn add(&mut self, name: &str) {
        match name {
            "string" => self.string = true,
            "integer" => self.integer = true,
            "number" => self.number = true,
            "boolean" => self.boolean = true,
            _ => self.other = true,
        }
    }

    fn add_value(&mut self, value: &Value) {
        match value {
            Value::String(_) => self.string = true,
            Value::Bool(_) => self.boolean = true,
            Value::Number(n) if n.is_f64() => self.number = true,
            Value::Number(_) => self.integer = true,
            _ => self.other = true,
        }
    }

    fn any(self) -> bool {
        self.string || self.integer || self.number || self.boolean || self.other
    }
}

fn types(root: &Value, schema: &Value, out: &mut Types, depth: usize) {
    if depth > 4 {
        return;
    }
    let schema = resolve(root, schema);
    match schema.get("type") {
        Some(Value::String(t)) => out.add(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).for_each(|t| out.add(t)),
        _ => {}
    }
    if let Some(value) = schema.get("const") {
        out.add_value(value);
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        values.iter().for_each(|v| out.add_value(v));
    }
    for branch in branches(root, schema) {
        types(root, branch, out, depth + 1);
    }
}

/// The string constants a schema allows (`enum` and `const`, also in branches).
pub(super) fn constants<'a>(
    root: &'a Value,
    schema: &'a Value,
    out: &mut Vec<&'a str>,
    depth: usize,
) {
    if depth > 4 {
        return;
    }
    let schema = resolve(root, schema);
    if let Some(value) = schema.get("const").and_then(Value::as_str) {
        out.push(value);
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        out.extend(values.iter().filter_map(Value::as_str));
    }
    for branch in branches(root, schema) {
        constants(root, branch, out, depth + 1);
    }
}

/// Reads a scalar as RAGFlow would (see [`super::parse`]); leaves it as it is when it cannot,
/// so the schema check reports it.
fn coerce(root: &Value, schema: &Value, value: &mut Value) {
    let mut accepted = Types::default();
    types(root, schema, &mut accepted, 0);
    if !accepted.any() {
        return;
    }
    let replacement = match &*value {
        Value::String(s) if accepted.string => {
            // `index_mode: "Space"`: RAGFlow lower-cases such choices before comparing.
            let mut allowed = Vec::new();
            constants(root, schema, &mut allowed, 0);
            if allowed.is_empty() || allowed.contains(&s.as_str()) {
                None
            } else {
                let trimmed = s.trim();
                let mut matching = allowed.iter().filter(|c| c.eq_ignore_ascii_case(trimmed));
                match (matching.next(), matching.next()) {
                    (Some(only), None) => Some(Value::String((*only).to_owned())),
                    _ => None,
                }
            }
        }
        Value::String(s) => {
            let integer = (accepted.integer || accepted.number)
                .then(|| python_int(s))
                .flatten();
            let number = || {
                accepted
                    .number
                    .then(|| s.trim().parse::<f64>().ok())
                    .flatten()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            };
            let boolean = || {
                accepted
                    .boolean
                    .then(|| truth(s))
                    .flatten()
                    .map(Value::Bool)
            };
            integer.or_else(number).or_else(boolean)
        }
        Value::Number(n) if !accepted.integer && !accepted.number => {
            // Only whole numbers: a float's text (`1e23` for 99999999999999999999999) is not
            // what the user wrote, so it is left to be reported.
            if accepted.string && !n.is_f64() {
                Some(Value::String(n.to_string()))
            } else if accepted.boolean {
                match n.as_u64() {
                    Some(0) => Some(Value::Bool(false)),
                    Some(1) => Some(Value::Bool(true)),
                    _ => None,
                }
            } else {
                None
            }
        }
        Value::Number(n) if accepted.integer && !accepted.number && n.is_f64() => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            // In range and integral, so the cast is exact.
            .map(|f| Value::Number(Number::from(f as i64))),
        _ => None,
    };
    if let Some(replacement) = replacement {
        *value = replacement;
    }
}

/// Python's `int(str)`: surrounding whitespace, an optional sign, decimal digits with single
/// underscores between them.
fn python_int(text: &str) -> Option<Value> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    let magnitude: u64 = digits.parse().ok()?;
    if negative {
        let value = 0i64.checked_sub_unsigned(magnitude)?;
        Some(Value::Number(value.into()))
    } else {
        Some(Value::Number(magnitude.into()))
    }
}

/// A boolean written as text, as web forms and environment-style configs write them.
fn truth(text: &str) -> Option<bool> {
    let text = text.trim();
    ["true", "1", "yes", "on"]
        .iter()
        .any(|t| text.eq_ignore_ascii_case(t))
        .then_some(true)
        .or_else(|| {
            ["false", "0", "no", "off"]
                .iter()
                .any(|f| text.eq_ignore_ascii_case(f))
                .then_some(false)
        })
}

/// Adds to a config's schema the names [`normalise`] accepts: each alias as a property of its
/// own (the field's schema, marked [`ALIAS_OF`]) and each accepted-and-ignored field (any
/// value, marked [`IGNORED`] with the reason, and [`QUIET`] with the values not worth a note).
///
/// `ignored` are (path, reason, quiet values); a path names a field of the root
/// (`sync_batch_size`) or of an object under it (`credentials.authentication_method`). The first
/// entry for a path wins (a config's own before the generic ones). A field the config declares
/// itself is used, so an ignored entry for it is skipped, as is one whose parent object the
/// config does not have.
pub(super) fn extend_schema(schema: &mut Value, ignored: &[(&str, &str, &[&str])]) {
    for (path, reason, quiet) in ignored {
        let (parents, name) = match path.rsplit_once('.') {
            Some((parents, name)) => (Some(parents), name),
            None => (None, *path),
        };
        let Some(properties) = object_at(schema, parents) else {
            continue;
        };
        if properties.contains_key(name) {
            continue;
        }
        let mut property = serde_json::json!({
            "description": format!("Accepted for RAGFlow compatibility and ignored: {reason}"),
            IGNORED: reason,
        });
        if !quiet.is_empty() {
            property[QUIET] = serde_json::json!(quiet);
        }
        properties.insert(name.to_owned(), property);
    }
    // Every object with properties, at the root and among the definitions.
    let mut pointers = vec![String::new()];
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        pointers.extend(defs.keys().map(|k| format!("/$defs/{}", escape_pointer(k))));
    }
    for pointer in pointers {
        let Some(properties) = schema
            .pointer_mut(&pointer)
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut aliases = Vec::new();
        for (name, property) in properties.iter() {
            for alias in names_in(property.get(ALIASES)) {
                if properties.contains_key(alias) {
                    continue;
                }
                let mut copy = property.clone();
                if let Some(copy) = copy.as_object_mut() {
                    copy.remove(ALIASES);
                    copy.insert(ALIAS_OF.to_owned(), Value::String(name.clone()));
                    copy.insert(
                        "description".to_owned(),
                        Value::String(format!("Another name for `{name}`.")),
                    );
                }
                aliases.push((alias.to_owned(), copy));
            }
        }
        properties.extend(aliases);
    }
}

/// Mistakes in a config type's declarations (see [`super::declaration_problems`]), found in
/// its schema before [`extend_schema`] ran: an ignored field the config also declares, or whose
/// parent object it does not have, and an alias that is also a field's name.
pub(super) fn declaration_problems(schema: &Value, ignored: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut copy = schema.clone();
    for path in ignored {
        let (parents, name) = match path.rsplit_once('.') {
            Some((parents, name)) => (Some(parents), name),
            None => (None, *path),
        };
        match object_at(&mut copy, parents) {
            None => out.push(format!(
                "IGNORED names `{path}`, but the config has no object `{}`",
                parents.unwrap_or_default()
            )),
            Some(properties) if properties.contains_key(name) => out.push(format!(
                "IGNORED names `{path}`, a field the config declares (and so uses)"
            )),
            Some(_) => {}
        }
    }
    let mut objects = vec![schema];
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        objects.extend(defs.values());
    }
    for object in objects {
        let Some(properties) = object.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (name, property) in properties {
            if is_unbounded_integer(property) {
                out.push(format!(
                    "`{name}` is an integer without a maximum: bound it to what the code can \
                     honour (`#[schemars(range(max = N))]`), so a hostile number is refused \
                     when the config is read rather than allocated from"
                ));
            }
            for alias in names_in(property.get(ALIASES)) {
                if properties.contains_key(alias) {
                    out.push(format!(
                        "`{alias}` is declared as another name of `{name}` and is a field too"
                    ));
                }
            }
        }
    }
    out
}

/// Whether a property's schema admits integers with no upper bound (directly, or through the
/// integer branch of an `anyOf`/`oneOf`).
fn is_unbounded_integer(property: &Value) -> bool {
    let is_integer = match property.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
        _ => false,
    };
    if is_integer && property.get("maximum").is_none() {
        return true;
    }
    ["anyOf", "oneOf"].iter().any(|key| {
        property
            .get(*key)
            .and_then(Value::as_array)
            .is_some_and(|branches| branches.iter().any(is_unbounded_integer))
    })
}

/// The properties of the object schema at a dotted path of property names (following
/// `$ref`s and the one object branch of an `anyOf`), or the root's for `None`.
fn object_at<'a>(schema: &'a mut Value, path: Option<&str>) -> Option<&'a mut Map<String, Value>> {
    let mut pointer = String::new();
    for name in path.into_iter().flat_map(|p| p.split('.')) {
        pointer = object_pointer(schema, &pointer)?;
        pointer = format!("{pointer}/properties/{}", escape_pointer(name));
    }
    let pointer = object_pointer(schema, &pointer)?;
    schema
        .pointer_mut(&pointer)?
        .get_mut("properties")?
        .as_object_mut()
}

/// The pointer of the object schema with properties that the schema at `pointer` stands for.
fn object_pointer(root: &Value, pointer: &str) -> Option<String> {
    let mut pointer = pointer.to_owned();
    for _ in 0..8 {
        let schema = root.pointer(&pointer)?;
        if schema.get("properties").is_some() {
            return Some(pointer);
        }
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            pointer = target.strip_prefix('#')?.to_owned();
            continue;
        }
        let (key, list) = ["anyOf", "oneOf"]
            .into_iter()
            .find_map(|k| Some((k, schema.get(k)?.as_array()?)))?;
        let mut objects = list
            .iter()
            .enumerate()
            .filter(|(_, b)| b.get("properties").is_some() || b.get("$ref").is_some());
        let (index, _) = objects.next()?;
        if objects.next().is_some() {
            return None;
        }
        pointer = format!("{pointer}/{key}/{index}");
    }
    None
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_reads_what_int_reads() {
        let int = |s: &str| python_int(s).and_then(|v| v.as_i64());
        assert_eq!(int(" 2 "), Some(2));
        assert_eq!(int("+3"), Some(3));
        assert_eq!(int("-7"), Some(-7));
        assert_eq!(int("1_048_576"), Some(1_048_576));
        for bad in ["", "-", "2.0", "1__0", "_1", "1_", "0x10", "ten", "1e3"] {
            assert_eq!(python_int(bad), None, "{bad}");
        }
        assert_eq!(
            python_int("18446744073709551615").and_then(|v| v.as_u64()),
            Some(u64::MAX)
        );
        assert_eq!(python_int("18446744073709551616"), None);
    }

    #[test]
    fn truth_reads_form_booleans() {
        for yes in ["true", "True", " TRUE ", "1", "yes", "on"] {
            assert_eq!(truth(yes), Some(true), "{yes}");
        }
        for no in ["false", "False", "0", "no", "off"] {
            assert_eq!(truth(no), Some(false), "{no}");
        }
        assert_eq!(truth("maybe"), None);
        assert_eq!(truth(""), None);
    }
}
