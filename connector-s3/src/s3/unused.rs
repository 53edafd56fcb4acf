//! The credential fields a config was given and its other settings leave unused (keys left
//! from `access_key` under `iam_role` or `assume_role`, a role ARN under `access_key`, the S3
//! authentication fields under another bucket type), reported through
//! [`ConnectorConfig::unused`](connector_core::ConnectorConfig::unused) so that a user learns
//! a value did nothing. RAGFlow's form keeps the values of hidden fields, so a config saved
//! after switching the method carries them.

use connector_core::config::Ignored;

use super::config::{AuthenticationMethod, BucketType, S3Config};

/// Why keys are unused under `iam_role` without `iam_role_with_keys`.
const IAM_ROLE_KEYS: &str = "with `authentication_method: iam_role` the AssumeRole call is \
     signed with the host's ambient credentials, as in RAGFlow; set \
     `credentials.iam_role_with_keys: true` to sign it with the keys";
/// Why keys and a role are unused under `assume_role`.
const ASSUME_ROLE: &str = "with `authentication_method: assume_role` the host's ambient \
     credentials sign every request, as in RAGFlow";
/// Why the fields of `iam_role` are unused under another method.
const ONLY_IAM_ROLE: &str = "only `authentication_method: iam_role` reads it";
/// Why the STS endpoint is unused under `access_key`.
const NO_STS: &str = "only `authentication_method` `iam_role` and `assume_role` call STS";

/// How sure the config alone is that it is read as Amazon S3 (the source may decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    /// `bucket_type: s3`, or no type and no endpoint (S3 under source `s3`; under `r2`, GCS or
    /// OCI the S3 credential fields are unused anyway).
    S3,
    /// No type, an endpoint: Amazon S3 at that endpoint, or `s3_compatible` (which signs with
    /// the keys), whichever source it is given to.
    S3OrCompatible,
    /// Another bucket type, which reads no S3 authentication field.
    Other(BucketType),
}

/// The fields of `config` that its other settings leave unused, with the reason.
pub(super) fn of(config: &S3Config) -> Vec<Ignored> {
    let c = &config.credentials;
    let kind = match config.bucket_type {
        Some(BucketType::S3) => Type::S3,
        None if c.endpoint_url.is_none() => Type::S3,
        None => Type::S3OrCompatible,
        Some(other) => Type::Other(other),
    };
    let mut out = Vec::new();
    let mut note = |field: &str, given: bool, reason: &str| {
        if given {
            out.push(Ignored::new(format!("credentials.{field}"), reason));
        }
    };
    let keys = [
        ("aws_access_key_id", c.aws_access_key_id.is_some()),
        ("aws_secret_access_key", c.aws_secret_access_key.is_some()),
        ("aws_session_token", c.aws_session_token.is_some()),
    ];
    let role = c.aws_role_arn.is_some();
    let sts = c.sts_endpoint_url.is_some();
    let with_keys = c.iam_role_with_keys;
    if let Type::Other(t) = kind {
        let reason =
            format!("only `bucket_type: s3` reads it; `{t}` signs with its keys, as in RAGFlow");
        // `access_key` is what RAGFlow's form sends for every mode: no note for it.
        let method = c
            .authentication_method
            .is_some_and(|m| m != AuthenticationMethod::AccessKey);
        note("authentication_method", method, &reason);
        note("aws_role_arn", role, &reason);
        note("iam_role_with_keys", with_keys, &reason);
        note("sts_endpoint_url", sts, &reason);
        return out;
    }
    match config.authentication_method() {
        AuthenticationMethod::AccessKey => {
            note("aws_role_arn", role, ONLY_IAM_ROLE);
            note("iam_role_with_keys", with_keys, ONLY_IAM_ROLE);
            note("sts_endpoint_url", sts, NO_STS);
        }
        AuthenticationMethod::IamRole => {
            if kind == Type::S3 && !with_keys {
                for (field, given) in keys {
                    note(field, given, IAM_ROLE_KEYS);
                }
            }
        }
        AuthenticationMethod::AssumeRole => {
            if kind == Type::S3 {
                for (field, given) in keys {
                    note(field, given, ASSUME_ROLE);
                }
            }
            note("aws_role_arn", role, ASSUME_ROLE);
            note("iam_role_with_keys", with_keys, ONLY_IAM_ROLE);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::config::parse;

    fn unused(json: serde_json::Value) -> Vec<String> {
        let parsed = parse::<S3Config>(json).unwrap_or_else(|e| panic!("{e}"));
        parsed.ignored.into_iter().map(|i| i.path).collect()
    }

    const KEYS: [&str; 2] = [
        "credentials.aws_access_key_id",
        "credentials.aws_secret_access_key",
    ];

    #[test]
    fn keys_left_under_iam_role_are_unused_unless_asked_for() {
        let role = "arn:aws:iam::123456789012:role/docs-reader";
        let got = unused(serde_json::json!({"bucket_name": "b", "bucket_type": "s3",
            "credentials": {"authentication_method": "iam_role", "aws_role_arn": role,
                "aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}}));
        assert_eq!(got, KEYS);
        let got = unused(serde_json::json!({"bucket_name": "b",
            "credentials": {"authentication_method": "iam_role", "aws_role_arn": role,
                "aws_access_key_id": "AKIA", "aws_secret_access_key": "s",
                "iam_role_with_keys": true}}));
        assert!(got.is_empty(), "{got:?}");
        // A half pair is no problem when the keys are not used; it is with the opt-in.
        assert_eq!(
            unused(serde_json::json!({"bucket_name": "b",
                "credentials": {"authentication_method": "iam_role", "aws_role_arn": role,
                    "aws_access_key_id": "AKIA"}})),
            ["credentials.aws_access_key_id"]
        );
        let err = parse::<S3Config>(serde_json::json!({"bucket_name": "b", "bucket_type": "s3",
            "credentials": {"authentication_method": "iam_role", "aws_role_arn": role,
                "aws_access_key_id": "AKIA", "iam_role_with_keys": "true"}}))
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "credentials.aws_secret_access_key: is required with `iam_role_with_keys`"
            ),
            "{err}"
        );
    }

    #[test]
    fn keys_and_role_left_under_assume_role_are_unused() {
        let got = unused(serde_json::json!({"bucket_name": "b", "bucket_type": "s3",
            "credentials": {"authentication_method": "assume_role",
                "aws_role_arn": "arn:aws:iam::123456789012:role/r",
                "aws_access_key_id": "AKIA", "aws_secret_access_key": "s", "session_token": "t"}}));
        assert_eq!(
            got,
            [
                KEYS[0],
                KEYS[1],
                "credentials.aws_session_token",
                "credentials.aws_role_arn"
            ]
        );
    }

    #[test]
    fn a_role_under_access_key_is_unused() {
        let got = unused(serde_json::json!({"bucket_name": "b", "bucket_type": "s3",
            "credentials": {"authentication_method": "access_key",
                "aws_role_arn": "arn:aws:iam::123456789012:role/r",
                "aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}}));
        assert_eq!(got, ["credentials.aws_role_arn"]);
    }

    #[test]
    fn other_bucket_types_read_no_s3_authentication_field() {
        let got = unused(
            serde_json::json!({"bucket_name": "b", "bucket_type": "s3_compatible",
            "credentials": {"authentication_method": "iam_role",
                "aws_role_arn": "arn:aws:iam::123456789012:role/r",
                "endpoint_url": "http://127.0.0.1:9000",
                "aws_access_key_id": "k", "aws_secret_access_key": "s"}}),
        );
        assert_eq!(
            got,
            [
                "credentials.authentication_method",
                "credentials.aws_role_arn"
            ]
        );
        // The form's default method is no note.
        let got = unused(
            serde_json::json!({"bucket_name": "b", "bucket_type": "s3_compatible",
            "credentials": {"authentication_method": "access_key",
                "endpoint_url": "http://127.0.0.1:9000",
                "aws_access_key_id": "k", "aws_secret_access_key": "s"}}),
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn without_a_type_an_endpoint_leaves_the_keys_alone() {
        // Under source `s3_compatible` these keys sign every request.
        let got = unused(serde_json::json!({"bucket_name": "b",
            "credentials": {"authentication_method": "assume_role",
                "endpoint_url": "http://127.0.0.1:9000",
                "aws_access_key_id": "k", "aws_secret_access_key": "s"}}));
        assert!(got.is_empty(), "{got:?}");
    }
}
