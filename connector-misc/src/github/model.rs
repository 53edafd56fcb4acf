//! What GitHub's REST answers hold, as far as the connector reads them (field names as in
//! <https://docs.github.com/en/rest>).

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A user as GitHub shows one (`user`, `assignees[]`, `owner`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) login: String,
    /// `User`, `Bot` (a GitHub App, as `dependabot[bot]`) or `Organization`.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
}

impl User {
    /// A GitHub App's account (`type` `Bot`): CI, coverage and dependency bots.
    pub(crate) fn is_bot(&self) -> bool {
        self.kind.as_deref() == Some("Bot")
    }
}

/// An owner of a repository.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Owner {
    pub(crate) login: String,
    /// `User` or `Organization`: only an organisation's repositories have teams.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
}

/// A team of `GET /repos/{owner}/{repo}/teams`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Team {
    pub(crate) slug: String,
}

/// `GET /repos/{owner}/{repo}` and the entries of `GET /orgs/{org}/repos`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Repo {
    pub(crate) name: String,
    pub(crate) full_name: String,
    pub(crate) owner: Owner,
    #[serde(default)]
    pub(crate) private: bool,
    /// `public`, `private` or `internal` (GitHub Enterprise).
    #[serde(default)]
    pub(crate) visibility: Option<String>,
    pub(crate) html_url: String,
    #[serde(default)]
    pub(crate) default_branch: Option<String>,
    #[serde(default)]
    pub(crate) archived: bool,
    /// Blocked by GitHub (`disabled`): nothing of it can be read.
    #[serde(default)]
    pub(crate) disabled: bool,
    /// Whether the repository has issues; without them the issues endpoints answer `410`
    /// and pull requests are listed by `GET /pulls` (pull requests cannot be turned off).
    #[serde(default = "yes")]
    pub(crate) has_issues: bool,
}

fn yes() -> bool {
    true
}

/// A label (`labels[]`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Label {
    pub(crate) name: String,
}

/// A milestone.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Milestone {
    pub(crate) title: String,
}

/// `pull_request` of an issues-endpoint item: present exactly on pull requests.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PullRequestLink {
    #[serde(default, deserialize_with = "utc::option")]
    pub(crate) merged_at: Option<DateTime<Utc>>,
}

/// An item of `GET /repos/{owner}/{repo}/issues` (issues and pull requests alike).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Issue {
    pub(crate) number: u64,
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) state_reason: Option<String>,
    pub(crate) html_url: String,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) assignees: Vec<User>,
    #[serde(default)]
    pub(crate) labels: Vec<Label>,
    #[serde(default)]
    pub(crate) milestone: Option<Milestone>,
    /// The number of (issue) comments.
    #[serde(default)]
    pub(crate) comments: u64,
    #[serde(deserialize_with = "utc::required")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(deserialize_with = "utc::required")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "utc::option")]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) pull_request: Option<PullRequestLink>,
    #[serde(default)]
    pub(crate) draft: Option<bool>,
    #[serde(default)]
    pub(crate) locked: bool,
    /// Why it is locked: `off-topic`, `too heated`, `resolved` or `spam`.
    #[serde(default)]
    pub(crate) active_lock_reason: Option<String>,
}

impl Issue {
    pub(crate) fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }
}

/// A comment of `GET /repos/{owner}/{repo}/issues/{number}/comments`, or a review comment of
/// `GET /repos/{owner}/{repo}/pulls/{number}/comments` (which adds `path`, `line`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(deserialize_with = "utc::required")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) line: Option<u64>,
    #[serde(default)]
    pub(crate) original_line: Option<u64>,
}

/// When an item of `GET /repos/{owner}/{repo}/pulls` last changed: a pull request's own
/// `updated_at`, which reviews and review comments move (the issues endpoint's does not).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PullSummary {
    pub(crate) number: u64,
    #[serde(deserialize_with = "utc::required")]
    pub(crate) updated_at: DateTime<Utc>,
}

/// A comment of the repository-wide listings `GET /repos/{owner}/{repo}/issues/comments` (with
/// `issue_url`) and `GET /repos/{owner}/{repo}/pulls/comments` (with `pull_request_url`):
/// which item it is on and when it was last written (created or edited).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListedComment {
    #[serde(deserialize_with = "utc::required")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) issue_url: Option<String>,
    #[serde(default)]
    pub(crate) pull_request_url: Option<String>,
}

impl ListedComment {
    /// The number of the issue or pull request the comment is on (the last segment of its
    /// `issue_url` or `pull_request_url`).
    pub(crate) fn number(&self) -> Option<u64> {
        let url = self
            .pull_request_url
            .as_deref()
            .or(self.issue_url.as_deref())?;
        url.trim_end_matches('/').rsplit('/').next()?.parse().ok()
    }
}

/// A review of `GET /repos/{owner}/{repo}/pulls/{number}/reviews`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Review {
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`.
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default, deserialize_with = "utc::option")]
    pub(crate) submitted_at: Option<DateTime<Utc>>,
}

/// `GET /repos/{owner}/{repo}/git/trees/{sha}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tree {
    #[serde(default)]
    pub(crate) tree: Vec<TreeEntry>,
    #[serde(default)]
    pub(crate) truncated: bool,
}

/// One entry of a tree: `blob` (a file), `tree` (a folder) or `commit` (a submodule).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TreeEntry {
    pub(crate) path: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) sha: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) mode: Option<String>,
}

/// `GET /repos/{owner}/{repo}/contents/{path}` for a file.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Content {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) sha: String,
    #[serde(default)]
    pub(crate) size: u64,
}

/// GitHub's error body: `{"message": "...", "documentation_url": "..."}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) message: String,
}

/// GitHub's times (`2011-04-22T13:33:48Z`), read by the position of their digits: chrono's
/// general RFC 3339 parser weighed on every listed item's two or three times. Any other form
/// (an offset, a fraction of a second) goes to chrono.
pub(crate) mod utc {
    use std::fmt;

    use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
    use serde::de::{self, Deserializer, Visitor};

    /// `YYYY-MM-DDTHH:MM:SSZ`, or `None` for any other form (or an impossible date).
    fn exact(s: &str) -> Option<DateTime<Utc>> {
        let b = s.as_bytes();
        let shaped = b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z';
        if !shaped {
            return None;
        }
        let n = |from: usize, to: usize| {
            b[from..to].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let year = i32::try_from(n(0, 4)?).ok()?;
        NaiveDate::from_ymd_opt(year, n(5, 7)?, n(8, 10)?)?
            .and_hms_opt(n(11, 13)?, n(14, 16)?, n(17, 19)?)
            .map(|t| t.and_utc())
    }

    /// `s` as a time in UTC.
    pub(crate) fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        match exact(s) {
            Some(t) => Ok(t),
            None => s.parse::<DateTime<FixedOffset>>().map(|t| t.to_utc()),
        }
    }

    struct Time;

    impl Visitor<'_> for Time {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 date and time")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            parse(s).map_err(E::custom)
        }
    }

    struct MaybeTime;

    impl<'de> Visitor<'de> for MaybeTime {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 date and time, or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(Time).map(Some)
        }
    }

    pub(crate) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        d.deserialize_str(Time)
    }

    pub(crate) fn option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        d.deserialize_option(MaybeTime)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The position reading gives chrono's answer, and leaves the rest to it.
        #[test]
        fn times_read_by_position_are_chronos() {
            for s in [
                "2011-04-22T13:33:48Z",
                "1999-12-31T23:59:59Z",
                "2024-02-29T00:00:00Z",
                "2011-04-22T13:33:48.123Z",
                "2011-04-22T15:33:48+02:00",
                "2011-04-22 13:33:48Z",
            ] {
                let chrono = s.parse::<DateTime<FixedOffset>>().unwrap().to_utc();
                assert_eq!(parse(s).unwrap(), chrono, "{s}");
            }
            assert_eq!(exact("2011-04-22T13:33:48.1Z"), None);
            for bad in [
                "2023-02-29T00:00:00Z",
                "2011-13-22T13:33:48Z",
                "2011-04-22T1a:33:48Z",
                "",
            ] {
                assert!(parse(bad).is_err(), "{bad}");
            }
        }

        /// Null and a missing field are none; a number is an error naming what was expected.
        #[test]
        fn options_and_errors() {
            #[derive(serde::Deserialize)]
            struct T {
                #[serde(default, deserialize_with = "option")]
                at: Option<DateTime<Utc>>,
            }
            let t: T = serde_json::from_str(r#"{"at": null}"#).unwrap();
            assert_eq!(t.at, None);
            let t: T = serde_json::from_str("{}").unwrap();
            assert_eq!(t.at, None);
            let t: T = serde_json::from_str(r#"{"at": "2011-04-22T13:33:48Z"}"#).unwrap();
            assert_eq!(t.at, exact("2011-04-22T13:33:48Z"));
            let e = serde_json::from_str::<T>(r#"{"at": 12}"#).err().unwrap();
            assert!(e.to_string().contains("RFC 3339"), "{e}");
        }
    }
}
