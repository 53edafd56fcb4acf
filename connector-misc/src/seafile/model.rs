//! What SeaFile's answers hold: libraries (`GET /api2/repos/`, `/api2/repos/{id}/`,
//! `via-repo-token/repo-info/`) and directory entries (`dir/`), read leniently, one entry at a
//! time, so one odd entry fails alone.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use connector_core::Access;
use serde::Deserialize;
use serde_json::Value;

/// A library as `GET /api2/repos/` (or `/api2/repos/{id}/`) lists it; the repo-token API
/// gives only `repo_id` and `repo_name`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct Library {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    /// `repo` (the account's own), `srepo` (shared with it), `grepo` (a group's or public).
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// The owner's e-mail; for a group library the group's name, for a public one
    /// `Organization`.
    #[serde(default)]
    pub(crate) owner: Option<String>,
    #[serde(default)]
    pub(crate) encrypted: bool,
    /// The group a `grepo` is shared with.
    #[serde(default)]
    pub(crate) groupid: Option<Value>,
    #[serde(default)]
    pub(crate) group_name: Option<String>,
    /// `r` or `rw`.
    #[serde(default)]
    pub(crate) permission: Option<String>,
    /// The time of the library's last commit (Unix seconds): every change to its files,
    /// moves and uploads with old file times included, is a commit.
    #[serde(default)]
    pub(crate) mtime: Option<Value>,
    /// The groups it is shared with, gathered over its listing entries (a library shared with
    /// two groups of the account is listed twice).
    #[serde(skip)]
    pub(crate) groups: Vec<String>,
    /// Who the listing shows may read it (see [`Library::access`]).
    #[serde(skip)]
    pub(crate) readers: Vec<String>,
    /// Whether the token's answers tell who may read it (no for a library token).
    #[serde(skip)]
    pub(crate) knows_access: bool,
    /// Whether it is public: shared with every user of the server, listed as a `grepo` owned
    /// by `Organization`.
    #[serde(skip)]
    pub(crate) public: bool,
}

/// The repo-token API's library info.
#[derive(Debug, Deserialize)]
pub(crate) struct RepoInfo {
    pub(crate) repo_id: String,
    #[serde(default)]
    pub(crate) repo_name: String,
}

/// `GET /api2/account/info/`.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountInfo {
    pub(crate) email: String,
}

impl Library {
    /// The owner's e-mail, when the owner is a person (not a group or `Organization`).
    pub(crate) fn owner_email(&self) -> Option<&str> {
        self.owner
            .as_deref()
            .filter(|o| o.contains('@') && !o.ends_with("@seafile_group"))
    }

    /// Folds what the account's listing says of a library into access facts: an own library
    /// is the owner's; one shared with the account is the owner's and the account's (who else
    /// it is shared with only the owner may ask); a group library is the group's.
    pub(crate) fn gather(&mut self, me: Option<&str>) {
        self.knows_access = true;
        if self.kind.as_deref() == Some("grepo") && self.owner.as_deref() == Some("Organization") {
            self.public = true;
        }
        if let Some(owner) = self.owner_email().map(str::to_owned) {
            push_new(&mut self.readers, owner);
        }
        if self.kind.as_deref() == Some("srepo")
            && let Some(me) = me
        {
            push_new(&mut self.readers, me.to_owned());
        }
        if self.kind.as_deref() == Some("grepo")
            && let Some(group) = self.groupid.as_ref().and_then(id_text)
        {
            push_new(&mut self.groups, group);
        }
    }

    /// When the library last changed, when its listing says.
    pub(crate) fn modified(&self) -> Option<DateTime<Utc>> {
        parse_mtime(self.mtime.as_ref()?)
    }

    /// Adds a user the library is shared with.
    pub(crate) fn add_reader(&mut self, user: String) {
        push_new(&mut self.readers, user);
    }

    /// Adds a group the library is shared with (its id, a number or a string).
    pub(crate) fn add_group(&mut self, id: &Value) {
        if let Some(group) = id_text(id) {
            push_new(&mut self.groups, group);
        }
    }

    /// Merges the facts of another listing entry of the same library.
    pub(crate) fn merge(&mut self, other: &Library) {
        self.public |= other.public;
        for r in &other.readers {
            push_new(&mut self.readers, r.clone());
        }
        for g in &other.groups {
            push_new(&mut self.groups, g.clone());
        }
        if self.kind.as_deref() != Some("repo") && other.kind.is_some() {
            // The account's own entry says the most; keep the first otherwise.
            if other.kind.as_deref() == Some("repo") {
                self.kind.clone_from(&other.kind);
            }
        }
    }

    /// Who may read the library's files, as far as the token's answers tell: public for a
    /// public library; none for a library token, or a library whose listing names no person
    /// or group.
    pub(crate) fn access(&self) -> Option<Access> {
        if self.knows_access && self.public {
            return Some(Access::public());
        }
        if !self.knows_access || (self.readers.is_empty() && self.groups.is_empty()) {
            return None;
        }
        Some(Access::restricted(
            self.readers.clone(),
            self.groups.clone(),
        ))
    }
}

fn push_new(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// A SeaFile `mtime`: Unix seconds (number or numeric string) or ISO 8601 with an offset.
fn parse_mtime(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => n.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single()),
        Value::String(s) => {
            if let Ok(secs) = s.trim().parse::<i64>() {
                return Utc.timestamp_opt(secs, 0).single();
            }
            DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }
        _ => None,
    }
}

/// A JSON number or string as text (`groupid` is a number, ids elsewhere strings).
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A file's directory entry (dirent) as `dir/` lists it (its `type`, `file`, is read by the
/// walk): `id` (the object
/// id: a file's content id, which changes with every edit), `name`, `mtime` (Unix seconds;
/// some versions send ISO 8601), `size`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Dirent {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) mtime: Option<Value>,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) modifier_email: Option<String>,
    #[serde(default)]
    pub(crate) modifier_name: Option<String>,
    #[serde(default)]
    pub(crate) permission: Option<String>,
}

impl Dirent {
    /// `mtime` as a time: Unix seconds (number or numeric string) or ISO 8601; none when
    /// missing or unreadable (RAGFlow then uses now(); here the file is in every window).
    pub(crate) fn modified(&self) -> Option<DateTime<Utc>> {
        parse_mtime(self.mtime.as_ref()?)
    }

    /// The version token of a file: its object id (the same bytes, the same id).
    pub(crate) fn version(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }
}

/// A file met by the walk: its library, its path in the library (`/Docs/a.md`), and its entry.
#[derive(Debug, Clone)]
pub(crate) struct FileItem {
    pub(crate) library: Arc<Library>,
    pub(crate) path: String,
    pub(crate) dirent: Dirent,
}

impl FileItem {
    pub(crate) fn name(&self) -> &str {
        &self.dirent.name
    }
}

/// What the walk hands on: a file, or a problem that is no one file (an encrypted library, a
/// directory entry that cannot be read).
#[derive(Debug, Clone)]
pub(crate) enum Listed {
    File(FileItem),
    Problem(Problem),
}

/// A problem of the walk, reported as a failure.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    /// The document id it concerns, when it is one file's.
    pub(crate) id: Option<String>,
    pub(crate) message: String,
    /// Whether files may hide behind it (then prune must not trust the listing).
    pub(crate) hides_files: bool,
    pub(crate) kind: connector_core::ErrorKind,
}

/// The entries of a `dir/` answer: api2 sends a JSON array, the repo-token API an object with
/// `dirent_list`.
pub(crate) fn dirent_values(body: Value) -> Option<Vec<Value>> {
    match body {
        Value::Array(entries) => Some(entries),
        Value::Object(mut map) => match map.remove("dirent_list") {
            Some(Value::Array(entries)) => Some(entries),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dirent(mtime: Value) -> Dirent {
        serde_json::from_value(json!({"type": "file", "name": "a", "mtime": mtime}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn mtime_in_every_shape() {
        let at = Utc.timestamp_opt(1_576_548_579, 0).single();
        assert_eq!(dirent(json!(1_576_548_579)).modified(), at);
        assert_eq!(dirent(json!("1576548579")).modified(), at);
        assert_eq!(dirent(json!("2019-12-17T02:09:39+00:00")).modified(), at);
        assert_eq!(dirent(json!("soon")).modified(), None);
    }

    #[test]
    fn access_from_the_listing() {
        let mut shared: Library = serde_json::from_value(json!({
            "type": "srepo", "id": "r1", "name": "Team", "owner": "lian@lian.com", "encrypted": false
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        shared.gather(Some("me@example.com"));
        let mut group: Library = serde_json::from_value(json!({
            "type": "grepo", "id": "r1", "name": "Team", "owner": "group-of-lian", "groupid": 70
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        group.gather(Some("me@example.com"));
        shared.merge(&group);
        let access = shared.access().unwrap_or_else(|| panic!("access"));
        assert_eq!(access.emails, ["lian@lian.com", "me@example.com"]);
        assert_eq!(access.groups, ["70"]);
        let mut public: Library = serde_json::from_value(json!({
            "type": "grepo", "id": "r2", "owner": "Organization"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(public.access(), None, "nothing is known before gather");
        public.gather(Some("me@example.com"));
        assert_eq!(public.access(), Some(Access::public()));
    }
}
