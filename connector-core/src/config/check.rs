//! The structural check of a config's JSON against its JSON Schema, every problem by path.

use serde_json::{Map, Value};

use super::{Problem, REQUIRED, Step, child, lenient, redact_text, render};

pub(super) fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
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

pub(super) fn check_value(
    root: &Value,
    schema: &Value,
    value: &Value,
    at: &[Step],
    out: &mut Vec<Problem>,
) {
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
