//! The config's tests: RAGFlow's configs as they are, problems by path, what is in effect.

use super::*;
use connector_core::ErrorKind;
use connector_core::config::from_json;
use serde_json::json;

#[test]
fn ragflow_config_as_it_is() {
    let cfg: JiraConfig = from_json(json!({
        "base_url": "https://acme.atlassian.net",
        "project_key": "ENG",
        "jql_query": "type = Bug",
        "include_comments": true,
        "include_attachments": true,
        "attachment_size_limit": 1048576,
        "labels_to_skip": ["secret", " internal "],
        "comment_email_blacklist": "bot@acme.com, ci@acme.com,",
        "scoped_token": false,
        "timezone_offset": 2,
        "batch_size": 2,
        "time_buffer_seconds": 60,
        "credentials": {
            "jira_user_email": "me@acme.com",
            "jira_api_token": "tok-123456",
        },
    }))
    .unwrap();
    assert!(cfg.is_cloud());
    assert_eq!(cfg.labels_to_skip.as_slice(), ["secret", "internal"]);
    assert_eq!(
        cfg.comment_email_blacklist.as_slice(),
        ["bot@acme.com", "ci@acme.com"]
    );
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("tok-123456"), "{shown}");
}

#[test]
fn every_problem_by_path() {
    let err = from_json::<JiraConfig>(json!({
        "base_url": "ftp://jira.local/?x=1",
        "labels_to_skip": ["ok", "bad\""],
        "page_size": 500,
        "credentials": { "jira_password": "pw", "rest_api_version": "4" },
    }))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "base_url",
        "project_key",
        "labels_to_skip[1]",
        "page_size",
        "credentials.jira_user_email",
        "credentials.rest_api_version",
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:?}");
    }
}

fn config(extra: serde_json::Value) -> JiraConfig {
    let mut cfg = json!({
        "base_url": "https://jira.acme.org",
        "project_key": "ENG",
        "credentials": { "jira_api_token": "tok" },
    });
    if let (Some(cfg), serde_json::Value::Object(extra)) = (cfg.as_object_mut(), extra) {
        cfg.extend(extra);
    }
    from_json(cfg).unwrap()
}

#[test]
fn which_api_as_ragflow_decides() {
    // The host decides when nothing else does.
    assert!(!config(json!({})).is_cloud());
    let cloud = json!({"base_url": "https://acme.jira-dev.com"});
    assert!(config(cloud).is_cloud());
    // The form's `is_cloud`.
    assert!(config(json!({"is_cloud": true})).is_cloud());
    // RAGFlow's `rest_api_version` decides over `is_cloud`; `latest` leaves it to the rest.
    let v = |version: serde_json::Value, is_cloud: bool| {
        config(json!({
            "is_cloud": is_cloud,
            "credentials": { "jira_api_token": "tok", "rest_api_version": version },
        }))
        .is_cloud()
    };
    assert!(v(json!("3"), false));
    assert!(!v(json!("2"), true));
    assert!(v(json!("latest"), true));
}

#[test]
fn scoped_tokens_only_on_cloud() {
    // RAGFlow ignores `scoped_token` off Cloud; its Server form may leave it ticked.
    let server = config(json!({
        "scoped_token": true,
        "is_cloud": false,
        "credentials": { "jira_user_email": "jdoe", "jira_password": "pw" },
    }));
    assert!(!server.uses_gateway());
    let cloud = config(json!({"scoped_token": true, "is_cloud": true}));
    assert!(cloud.uses_gateway());
    let err = from_json::<JiraConfig>(json!({
        "base_url": "https://acme.atlassian.net",
        "project_key": "ENG",
        "scoped_token": true,
        "credentials": { "jira_user_email": "me@acme.com", "jira_password": "pw" },
    }))
    .unwrap_err();
    assert_eq!(err.problems()[0].path, "credentials.jira_api_token");
}

#[test]
fn a_token_alone_is_accepted_on_cloud_too() {
    // RAGFlow sends it as a Bearer token (an OAuth 2.0 access token on Cloud).
    let cfg = config(json!({"base_url": "https://acme.atlassian.net"}));
    assert!(cfg.is_cloud());
    assert!(cfg.credentials.jira_user_email.is_none());
}

#[test]
fn attachment_limit_zero_is_the_default_and_shown_in_effect() {
    for limit in [json!(0), json!(null)] {
        let cfg = config(json!({"attachment_size_limit": limit}));
        assert_eq!(cfg.attachment_size_limit(), DEFAULT_ATTACHMENT_SIZE_LIMIT);
        let shown = serde_json::to_value(&cfg).unwrap();
        assert_eq!(
            shown["attachment_size_limit"],
            DEFAULT_ATTACHMENT_SIZE_LIMIT
        );
    }
    let cfg = config(json!({"attachment_size_limit": 1024}));
    assert_eq!(cfg.attachment_size_limit(), 1024);
    assert_eq!(
        serde_json::to_value(&cfg).unwrap()["attachment_size_limit"],
        1024
    );
}

#[test]
fn serialised_as_in_effect_and_reads_back_the_same() {
    for extra in [
        json!({}),
        json!({"base_url": "https://acme.atlassian.net", "scoped_token": true}),
        json!({"is_cloud": true, "attachment_size_limit": 0, "labels_to_skip": "a, b"}),
        json!({"credentials": {"jira_api_token": "tok", "rest_api_version": 3}}),
    ] {
        let cfg = config(extra.clone());
        let shown = serde_json::to_value(&cfg).unwrap();
        // Absent when nothing says: the site is asked, again after reading it back.
        assert_eq!(
            shown.get("is_cloud").and_then(serde_json::Value::as_bool),
            cfg.cloud_declared(),
            "{extra}"
        );
        let again: JiraConfig = from_json(shown.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), shown, "{extra}");
    }
}

#[test]
fn a_project_name_is_a_project() {
    // RAGFlow quotes it into `project = "..."`, which takes names as well as keys.
    let cfg = config(json!({"project_key": "Web Team"}));
    assert_eq!(cfg.project_in_scope(), Some("Web Team"));
    let cfg = config(json!({"jql_query": "labels = x"}));
    assert_eq!(cfg.project_in_scope(), None);
}

#[test]
fn still_strict_about_typos() {
    let err = from_json::<JiraConfig>(json!({
        "base_url": "https://jira.local",
        "project_kee": "X",
        "credentials": { "jira_api_tokn": "t" },
    }))
    .unwrap_err();
    let problems: Vec<String> = err
        .problems()
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    let of = |path: &str| problems.iter().find(|p| p.starts_with(path)).cloned();
    assert!(
        of("project_kee").is_some_and(|p| p.contains("project_key")),
        "{problems:?}"
    );
    assert!(
        of("credentials.jira_api_tokn").is_some_and(|p| p.contains("jira_api_token")),
        "{problems:?}"
    );
}

#[test]
fn an_alias_and_its_field_with_two_values_take_the_field() {
    // RAGFlow reads `get("jira_api_token") or get("token")`: the field wins, and the
    // alias that lost is reported as ignored (core's config layer, f5ea8cc).
    let parsed = connector_core::config::parse::<JiraConfig>(json!({
        "base_url": "https://jira.local",
        "project_key": "X",
        "credentials": { "jira_api_token": "t-field", "token": "x-alias" },
    }))
    .unwrap();
    let token = parsed.config.credentials.jira_api_token.as_ref().unwrap();
    assert_eq!(token.expose(), "t-field");
    let ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(ignored, ["credentials.token"]);
    let shown = format!("{:?} {}", parsed.config, parsed.ignored[0]);
    assert!(
        !shown.contains("x-alias") && !shown.contains("t-field"),
        "{shown}"
    );
}

#[test]
fn the_form_as_ragflow_sends_it() {
    // Issue 14: blanks, both credential name sets, numbers as strings.
    let parsed = connector_core::config::parse::<JiraConfig>(json!({
        "is_cloud": false,
        "base_url": "https://jira.acme.internal",
        "project_key": "",
        "jql_query": "project = OPS",
        "batch_size": "2",
        "include_comments": true,
        "include_attachments": false,
        "attachment_size_limit": "1048576",
        "labels_to_skip": [],
        "comment_email_blacklist": [],
        "scoped_token": false,
        "time_buffer_seconds": "120",
        "sync_deleted_files": false,
        "credentials": {
            "jira_user_email": "",
            "jira_username": "jdoe",
            "jira_api_token": "",
            "jira_password": "pw-123456",
        },
    }))
    .unwrap();
    let cfg = parsed.config;
    assert_eq!(cfg.credentials.jira_user_email.as_deref(), Some("jdoe"));
    assert!(cfg.credentials.jira_api_token.is_none());
    assert!(cfg.credentials.jira_password.is_some());
    assert_eq!(cfg.project_key, None);
    assert_eq!(cfg.attachment_size_limit(), 1_048_576);
    assert!(!cfg.is_cloud());
    // RAGFlow's overlap, read (issue 15: the search index's lag).
    assert_eq!(cfg.time_buffer_seconds, Some(120));
    let ignored: Vec<&str> = parsed.ignored.iter().map(|i| i.path.as_str()).collect();
    // `sync_deleted_files: false` and `batch_size: 2`, which the form always sends,
    // change nothing: no note.
    assert!(ignored.is_empty(), "{ignored:?}");
    // RAGFlow's other names, each for its field.
    for (name, value) in [("token", "t1"), ("api_token", "t2")] {
        let cfg: JiraConfig = from_json(json!({
            "base_url": "https://jira.local",
            "project_key": "X",
            "credentials": { name: value, "password": "p" },
        }))
        .unwrap();
        assert!(cfg.credentials.jira_api_token.is_some(), "{name}");
        assert!(cfg.credentials.jira_password.is_some(), "{name}");
    }
}

/// `extra` over a minimal config, parsed with its notes.
fn read(extra: serde_json::Value) -> connector_core::config::Parsed<JiraConfig> {
    let mut cfg = json!({
        "base_url": "https://jira.acme.org",
        "project_key": "ENG",
        "credentials": { "jira_api_token": "tok" },
    });
    if let (Some(cfg), serde_json::Value::Object(extra)) = (cfg.as_object_mut(), extra) {
        cfg.extend(extra);
    }
    connector_core::config::parse(cfg).unwrap()
}

fn ignored_paths(parsed: &connector_core::config::Parsed<JiraConfig>) -> Vec<&str> {
    parsed.ignored.iter().map(|i| i.path.as_str()).collect()
}

#[test]
fn attachment_limit_zero_or_less_is_the_default_as_in_ragflow() {
    // RAGFlow: `attachment_size_limit if attachment_size_limit and attachment_size_limit
    // > 0 else 10 MiB`.
    for limit in [json!(-1), json!("-1"), json!("0"), json!(-1048576)] {
        let cfg = config(json!({"attachment_size_limit": limit}));
        assert_eq!(
            cfg.attachment_size_limit(),
            DEFAULT_ATTACHMENT_SIZE_LIMIT,
            "{limit}"
        );
    }
    // Not a number at all is still refused.
    let err = from_json::<JiraConfig>(json!({
        "base_url": "https://jira.local",
        "project_key": "X",
        "attachment_size_limit": "ten megs",
        "credentials": { "jira_api_token": "t" },
    }))
    .unwrap_err();
    assert_eq!(err.problems()[0].path, "attachment_size_limit");
}

#[test]
fn generic_knobs_get_reasons_that_fit_jira() {
    let parsed = read(json!({
        "allow_images": false,
        "batch_size": 2,
        "credentials": { "jira_api_token": "tok", "authentication_method": "api_token" },
    }));
    // `batch_size: 2` is what RAGFlow's form always sends: no note.
    assert_eq!(
        ignored_paths(&parsed),
        ["allow_images", "credentials.authentication_method"]
    );
    // Image attachments are indexed: the user is not told there are no images.
    let images = &parsed.ignored[0].reason;
    assert!(images.contains("include_attachments"), "{images}");
    assert!(!images.contains("no images"), "{images}");
    // Jira has four ways to authenticate, chosen by the credentials given.
    let how = &parsed.ignored[1].reason;
    assert!(
        how.contains("jira_password") && how.contains("scoped_token"),
        "{how}"
    );
    // Asking for images is what happens (with include_attachments): no note.
    let images = read(json!({"allow_images": "True", "include_attachments": true}));
    assert!(ignored_paths(&images).is_empty());
    // Another batch size is a note.
    assert_eq!(
        ignored_paths(&read(json!({"batch_size": "10"}))),
        ["batch_size"]
    );
}

#[test]
fn fields_left_unused_by_the_others_are_reported_as_ragflow_reads_them() {
    // RAGFlow: `if jql_query: (jql) elif project_key: project = ...`.
    let both = read(json!({"jql_query": "type = Bug"}));
    assert_eq!(ignored_paths(&both), ["project_key"]);
    assert!(
        both.ignored[0].reason.contains("jql_query"),
        "{}",
        both.ignored[0]
    );
    // A query that is only an ORDER BY selects nothing: the project does.
    assert!(ignored_paths(&read(json!({"jql_query": "ORDER BY created"}))).is_empty());
    // RAGFlow: a token (with or without the e-mail) wins over user name + password.
    for credentials in [
        json!({"jira_api_token": "tok", "jira_password": "pw"}),
        json!({"jira_user_email": "me@acme.org", "token": "tok", "password": "pw"}),
    ] {
        let token_wins = read(json!({ "credentials": credentials }));
        assert_eq!(ignored_paths(&token_wins), ["credentials.jira_password"]);
        let shown = token_wins.ignored[0].to_string();
        assert!(
            shown.contains("jira_api_token") && !shown.contains("pw"),
            "{shown}"
        );
    }
    // What is used is not reported.
    let server = read(json!({
        "credentials": { "jira_user_email": "jdoe", "jira_password": "pw" },
    }));
    assert!(ignored_paths(&server).is_empty());
}

#[test]
fn ragflow_declarations_are_sound() {
    assert_eq!(
        connector_core::config::declaration_problems::<JiraConfig>(),
        Vec::<String>::new()
    );
}
