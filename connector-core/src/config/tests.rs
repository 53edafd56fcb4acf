//! The config layer's tests: structural and semantic problems together, and RAGFlow's shapes.
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
    // RAGFlow's HTTP API stores an unset list as `null`.
    assert!(parse(Value::Null).is_empty());
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
    assert_eq!(field["anyOf"][2]["type"], "null");
    assert!(
        from_json::<Lists>(serde_json::json!({ "emails": null }))
            .unwrap()
            .emails
            .is_empty()
    );
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
    #[schemars(range(max = 1_073_741_824))]
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
    #[schemars(range(max = 10_000))]
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
        page_size: u32,
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
            "`page_size` is an integer without a maximum: bound it to what the code can \
             honour (`#[schemars(range(max = N))]`), so a hostile number is refused when the \
             config is read rather than allocated from",
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
    let got =
        review(serde_json::json!({ "url": "https://svc:hunter2@h.example:99999/v1" })).unwrap_err();
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
