//! The error rule: whether a response's member says it failed (`error`, `errors`, or
//! `error_path`'s value), what such a member looks like (to tell a status envelope the run's
//! pages with items carried), and how its value is shown in an error message.

use serde_json::Value;

/// Whether a value says "error": not `null`, `false`, `0`, `""`, an empty list, nor an object
/// none of whose members is set or whose `code` is 0 or 200 (`{"code": 0, "message": "OK"}`,
/// a status envelope on every answer: review11 F3).
pub(crate) fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Bool(true) => true,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(l) => !l.is_empty(),
        Value::Object(o) => {
            let ok = o.get("code").is_some_and(|c| {
                let n = c
                    .as_f64()
                    .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()));
                matches!(n, Some(x) if x == 0.0 || x == 200.0)
            });
            !ok && o.values().any(is_set)
        }
    }
}

/// The members of `body` (a response's root, or an object above the list) that say it is an
/// error, and their values: a non-empty `errors` (GraphQL's partial errors,
/// `{"data": {"posts": null}, "errors": [..]}`) or an `error` that is set ([`is_set`]). Such
/// a body is never an empty page: an error answered with status 200 would end the listing
/// early and let prune delete the rest, unless the run's pages with items carried the same
/// member ([`usual_sign`]). `errors` first, then `error`.
pub(crate) fn error_members(body: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    ["errors", "error"]
        .into_iter()
        .filter_map(|name| body.get(name).filter(|v| is_set(v)).map(|v| (name, v)))
}

/// The first member of `body` (at `at`, a pointer [`located`] gives; `""` for the root) that
/// says it is an error and is not one of the run's `usual` members met there
/// ([`usual_sign_at`]): every set member must be usual (review12 F7: GraphQL warnings in
/// `errors` on every answer must not hide a new `"error": "rate limited"`). A sign learned
/// elsewhere does not count (review32 F1: a sibling branch's `"error": "rate limited"` on a
/// page with items hid the same error on the response's envelope later, and prune deleted
/// the rest). A sign a checkpoint of an older binary holds ([`usual_sign`], [`fix11_sign`])
/// says nowhere, and counts where those binaries read it: at the root and every envelope.
pub(crate) fn unusual_error<'a>(
    body: &'a Value,
    at: &str,
    usual: &[String],
) -> Option<(&'static str, &'a Value)> {
    error_members(body).find(|(name, v)| {
        !usual.contains(&usual_sign_at(at, name, v))
            && !usual.contains(&usual_sign(name, v))
            && !fix11_sign(name, v).is_some_and(|old| usual.contains(&old))
    })
}

/// Where an error member was met, as a learned sign tells it: its object's JSON pointer
/// with each record's index or key (the entries of what holds records, `holds`) written `*`,
/// as a place is (`/data/archived`, `/runs/*/result`; the root is `""`): a later page's
/// envelope is the same one whichever record it lies in.
pub(crate) fn located(pointer: &str, mut holds: impl FnMut(&str) -> bool) -> String {
    let mut out = String::with_capacity(pointer.len());
    let starts = pointer.match_indices('/').map(|(i, _)| i);
    for (i, token) in starts.zip(pointer.split('/').skip(1)) {
        out.push('/');
        out.push_str(if holds(&pointer[..i]) { "*" } else { token });
    }
    out
}

/// [`usual_sign`] of a member met at `at` ([`located`]): a later page's member counts as
/// usual only there (review32 F1). `@` first, so that an older binary's sign, which holds
/// no place, is told apart; an older binary never matches this one, and fails loudly.
pub(crate) fn usual_sign_at(at: &str, name: &str, value: &Value) -> String {
    let sign = usual_sign(name, value);
    // `sign` is 32 hex digits: read from the end, the joined text gives back both parts, a
    // NUL in a key of `at` included (review33 F6).
    format!(
        "@{}",
        connector_core::ids::hash128(&format!("{at}\u{0}{sign}"))
    )
}

/// [`usual_sign`] of an object as fix11 wrote it, without which of its members are set: a
/// checkpoint that binary wrote mid-run holds such signs, and its resumed run would fail at
/// its last page every time until a full sync (review15 N5). This binary never learns one,
/// so only signs learned before keep the looser match.
fn fix11_sign(name: &str, value: &Value) -> Option<String> {
    let (keys, told, _) = object_shape(value.as_object()?);
    Some(connector_core::ids::hash128(&format!(
        "{name}\u{0}{{{keys}}}{told}"
    )))
}

/// An object's sorted keys, its `code`/`status`/`type` values, and its sorted set members,
/// each joined by `,` ([`usual_sign`]).
fn object_shape(o: &serde_json::Map<String, Value>) -> (String, String, String) {
    let mut k: Vec<&str> = o.keys().map(String::as_str).collect();
    k.sort_unstable();
    let told: Vec<String> = ["code", "status", "type"]
        .iter()
        .filter_map(|t| o.get(*t).map(|v| format!("{t}={v}")))
        .collect();
    // Which members are set, too: `{"message": "", "request_id": "r1"}` on every answer is
    // not `{"message": "Too many requests", …}` (review12 F7).
    let mut set: Vec<&str> = o
        .iter()
        .filter(|(_, v)| is_set(v))
        .map(|(k, _)| k.as_str())
        .collect();
    set.sort_unstable();
    (k.join(","), told.join(","), set.join(","))
}

/// What an error member looks like, to tell it again on a later page: its name and value for
/// a scalar or a list (GraphQL warnings repeat the same entries on every answer, while a
/// partial error names its own `path`), its keys and its `code`, `status` or `type` for an
/// object (a status envelope whose message varies); hashed, since it may hold anything.
pub(crate) fn usual_sign(name: &str, value: &Value) -> String {
    let shape = match value {
        Value::Object(o) => {
            let (keys, told, set) = object_shape(o);
            format!("{{{keys}}}{told}|{set}")
        }
        other => super::canonical_json(other),
    };
    connector_core::ids::hash128(&format!("{name}\u{0}{shape}"))
}

/// What an error message about an `error`/`errors` member tells the user to do: set
/// `error_path`. When the run learned nothing of this API's usual members (a run resumed at
/// its last page, or a first incremental run with nothing new: a finished run's learning is
/// carried only to the next incremental run, review15 N5), it says so, since then a status
/// envelope on every answer fails too.
pub(crate) fn error_path_hint(usual: &[String]) -> &'static str {
    if usual.is_empty() {
        "no page of this run with items carried such a member to compare it with (a run \
         whose pages hold no items learns none): set `error_path` to where this API reports \
         errors (or `error_path: false`)"
    } else {
        "set `error_path` to where this API reports errors (or `error_path: false`)"
    }
}

/// A value shown in an error message: shortened, and with every live secret removed.
/// Redacted whole, then cut (review12 F6: a secret cut in two is no longer recognised, and
/// its first part would be shown), never inside a `***`.
pub(crate) fn shown(value: &Value) -> String {
    let whole = value.to_string();
    connector_core::text::clip(&connector_core::secret::redact(&whole), 120).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_reads_objects_by_their_members() {
        for unset in [
            json!(null),
            json!(false),
            json!(0),
            json!(""),
            json!([]),
            json!({}),
            json!({"code": 0, "message": "OK"}),
            json!({"code": "200", "message": "fine"}),
            json!({"message": "", "detail": null}),
        ] {
            assert!(!is_set(&unset), "{unset}");
        }
        for set in [
            json!(true),
            json!("none"),
            json!([{}]),
            json!({"code": 429}),
            json!({"message": "slow down"}),
        ] {
            assert!(is_set(&set), "{set}");
        }
        let body = json!({"errors": [], "error": {"code": 1}});
        assert_eq!(error_members(&body).map(|(n, _)| n).next(), Some("error"));
    }

    #[test]
    fn a_sign_is_tied_to_where_it_was_met() {
        // Entries of what holds records are written `*`; the root is "".
        let holds = |p: &str| p == "/runs" || p == "/jobs";
        assert_eq!(located("/runs/3/result", holds), "/runs/*/result");
        assert_eq!(located("/jobs/j2", holds), "/jobs/*");
        assert_eq!(located("/data/archived", holds), "/data/archived");
        assert_eq!(located("", holds), "");
        let v = json!("rate limited");
        let at = |p| usual_sign_at(p, "error", &v);
        assert_ne!(at("/data/archived"), at("/data"));
        assert_ne!(at(""), at("/data"));
        assert_ne!(at(""), usual_sign("error", &v));
        // A sign met at `/data/archived` does not count at `/data` nor the root; an older
        // binary's, without a place, counts anywhere.
        let body = json!({"error": "rate limited"});
        assert!(unusual_error(&body, "/data", &[at("/data/archived")]).is_some());
        assert!(unusual_error(&body, "", &[at("/data/archived")]).is_some());
        assert!(unusual_error(&body, "/data", &[at("/data")]).is_none());
        assert!(unusual_error(&body, "/data", &[usual_sign("error", &v)]).is_none());
    }

    #[test]
    fn usual_signs_compare_values_or_keys() {
        let sign = |v: Value| usual_sign("error", &v);
        assert_eq!(sign(json!("none")), sign(json!("none")));
        assert_ne!(sign(json!("none")), sign(json!("busy")));
        // An envelope: its keys and code, whatever its message says.
        assert_eq!(
            sign(json!({"code": 1, "message": "a"})),
            sign(json!({"message": "b", "code": 1}))
        );
        assert_ne!(
            sign(json!({"code": 1, "message": "a"})),
            sign(json!({"code": 429, "message": "a"}))
        );
        assert_ne!(
            sign(json!({"code": 1})),
            sign(json!({"code": 1, "retry": 3}))
        );
        // review12 F7: the same keys, another member set.
        assert_ne!(
            sign(json!({"message": "", "request_id": "r1"})),
            sign(json!({"message": "Too many requests", "request_id": "r2"}))
        );
        assert_eq!(
            sign(json!({"message": "", "request_id": "r1"})),
            sign(json!({"message": "", "request_id": "r2"}))
        );
        // A list: its entries exactly (GraphQL warnings repeat; partial errors name a path).
        assert_eq!(
            sign(json!([{"message": "deprecated", "extensions": {}}])),
            sign(json!([{"extensions": {}, "message": "deprecated"}]))
        );
        assert_ne!(
            sign(json!([{"message": "a", "path": ["posts", 1]}])),
            sign(json!([{"message": "a", "path": ["posts", 2]}]))
        );
        assert_ne!(
            usual_sign("error", &json!("x")),
            usual_sign("errors", &json!("x"))
        );
        assert!(shown(&json!("x".repeat(500))).ends_with('…'));
    }

    /// review12 F6: a live secret across the cut is redacted before it is cut: no part of it
    /// is shown.
    #[test]
    fn a_secret_across_the_cut_is_never_shown() {
        let key = "sk-live-0a1b2c3d4e5f6a7b8c9d";
        let secret = connector_core::Secret::new(key);
        for at in 60..125 {
            let v = json!({"error": {"message": format!("{}api_key={key}&x=1", "m".repeat(at))}});
            let out = shown(&v);
            for part in 0..key.len() - 6 {
                assert!(!out.contains(&key[part..part + 6]), "{at}: {out}");
            }
        }
        drop(secret);
    }
}
