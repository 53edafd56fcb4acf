//! Who may read an issue, an attachment and a restricted comment ([`Access`]), from what the
//! token can read of Jira's permissions, looked up once per project, role, security level and
//! user in a run ([`Permissions`]).
//!
//! The rule everywhere: never name someone who cannot read the item. Jira decides by
//! intersections (the project's Browse Projects grants, then the issue's security level, then
//! a comment's group or role), and [`Access`] is a union of users, groups and "everyone", so an
//! intersection keeps only the principals both sides name (a group on one side and a user on
//! the other cannot be matched without group membership, and is left out). Whatever cannot be
//! read or resolved is left out too: access is narrower than Jira's, never wider. A project
//! whose permission scheme the token cannot read names no one (with a warning per project),
//! rather than leaving `access` unknown, which a host may read as "everyone".
//!
//! Principals: users by lower-case e-mail; groups by their id on Cloud (`groupId`, which a
//! rename keeps; the name where Jira gives no id) and by name on Server/Data Center (its only
//! identifier); every licensed user of the site (`applicationRole`, "any logged in user") as
//! the group `jira:{site}/users` (`jira:{site}/users/{application}` for one application's
//! users), `{site}` being the base URL without its scheme as in `issue_id` ids; Jira's
//! `anyone` (anonymous access) as public.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;

use connector_core::{Access, Result};
use tokio::sync::{Mutex, OnceCell};

use super::client::JiraClient;
use super::model::{Holder, Issue, Visibility};

/// User e-mails looked up per run at most; users past it are left out (never granted).
const MAX_USER_LOOKUPS: usize = 1000;

/// The principals that may read something, as far as the connector can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Principals {
    /// Anyone: Jira's `anyone` (anonymous access).
    public: bool,
    /// Every licensed user of the site (`applicationRole` without an application), by the
    /// group that names them (`jira:{site}/users`): narrower than public, and every user or
    /// group of the site that the other side of an intersection names is in it.
    site_users: Option<String>,
    /// Lower-case e-mails.
    emails: BTreeSet<String>,
    /// Group ids (Cloud) or names (Server/Data Center).
    groups: BTreeSet<String>,
}

impl Principals {
    /// No one the connector can name.
    pub(crate) fn nobody() -> Self {
        Self::default()
    }

    /// A short hash of who these are, for version tokens: a document whose readers change
    /// (an issue's access narrowed) gets a new version and is delivered again.
    pub(crate) fn short_hash(&self) -> String {
        // BTreeSets: the Debug text is the same for the same principals.
        let mut hash = connector_core::ids::hash128(&format!("{self:?}"));
        hash.truncate(12);
        hash
    }

    fn add_email(&mut self, email: &str) {
        let email = email.trim().to_lowercase();
        if !email.is_empty() {
            self.emails.insert(email);
        }
    }

    fn add_group(&mut self, group: &str) {
        let group = group.trim();
        if !group.is_empty() {
            self.groups.insert(group.to_owned());
        }
    }

    fn extend(&mut self, other: &Self) {
        self.public |= other.public;
        if self.site_users.is_none() {
            self.site_users.clone_from(&other.site_users);
        }
        self.emails.extend(other.emails.iter().cloned());
        self.groups.extend(other.groups.iter().cloned());
    }

    /// Whether every user or group of the site is in these: anyone, or every licensed user.
    fn admits_site_principals(&self) -> bool {
        self.public || self.site_users.is_some()
    }

    /// Those who are in both: a principal one side names is kept when the other names it too
    /// or lets every user of the site in.
    pub(crate) fn intersect(&self, other: &Self) -> Self {
        let keep = |mine: &BTreeSet<String>, theirs: &BTreeSet<String>, open: bool| {
            mine.iter()
                .filter(|p| open || theirs.contains(*p))
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        let (open, other_open) = (
            self.admits_site_principals(),
            other.admits_site_principals(),
        );
        let mut emails = keep(&self.emails, &other.emails, other_open);
        emails.extend(keep(&other.emails, &self.emails, open));
        let mut groups = keep(&self.groups, &other.groups, other_open);
        groups.extend(keep(&other.groups, &self.groups, open));
        let public = self.public && other.public;
        // Both let every licensed user in (one of them maybe anyone at all): they still are.
        let site_users = (open && other_open && !public)
            .then(|| self.site_users.clone().or_else(|| other.site_users.clone()))
            .flatten();
        Self {
            public,
            site_users,
            emails,
            groups,
        }
    }

    /// As core's [`Access`].
    pub(crate) fn to_access(&self) -> Access {
        if self.public {
            return Access::public();
        }
        let mut groups = self.groups.clone();
        groups.extend(self.site_users.iter().cloned());
        Access::restricted(
            self.emails.iter().cloned().collect(),
            groups.into_iter().collect(),
        )
    }
}

/// Grants with the holders that depend on the issue (reporter, assignee) still open.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grants {
    principals: Principals,
    reporter: bool,
    assignee: bool,
}

impl Grants {
    /// The principals for `issue`: the reporter and the assignee by their e-mail, when the
    /// grants name them and Jira shows it.
    fn for_issue(&self, issue: &Issue) -> Principals {
        let mut p = self.principals.clone();
        let f = &issue.fields;
        for (granted, user) in [(self.reporter, &f.reporter), (self.assignee, &f.assignee)] {
            if let Some(email) = user
                .as_ref()
                .and_then(|u| u.email_address.as_deref())
                .filter(|_| granted)
            {
                p.add_email(email);
            }
        }
        p
    }
}

/// A map whose values are computed once, concurrently safe: the first caller for a key
/// computes, the others wait for it; an error is not kept (the next caller tries again).
struct Memo<K, V>(Mutex<HashMap<K, Arc<OnceCell<V>>>>);

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    async fn get<F, Fut>(&self, key: K, init: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        let cell = Arc::clone(self.0.lock().await.entry(key).or_default());
        cell.get_or_try_init(init).await.cloned()
    }

    async fn len(&self) -> usize {
        self.0.lock().await.len()
    }
}

/// A project's roles: (name, id).
type RoleIds = Vec<(String, String)>;

/// What one run has learnt of Jira's permissions, and the lookups that learn more.
///
/// Requests: per project, one for its permission scheme and one per role the Browse Projects
/// grants name; per security level in use, its members (Cloud, pages of 50); per comment role
/// on Server/Data Center, the project's role list once; per user named only by account id or
/// user name, one for the e-mail (at most [`MAX_USER_LOOKUPS`]). All once per run, whatever
/// the number of issues.
pub(crate) struct Permissions {
    client: JiraClient,
    /// The base URL without its scheme: the name of the site's own principals.
    site_key: String,
    projects: Memo<String, Option<Arc<Grants>>>,
    levels: Memo<(String, String), Option<Arc<Grants>>>,
    roles: Memo<(String, String), Option<Arc<Principals>>>,
    role_ids: Memo<String, Option<Arc<RoleIds>>>,
    emails: Memo<String, Option<String>>,
}

impl std::fmt::Debug for Permissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permissions").finish_non_exhaustive()
    }
}

impl Permissions {
    pub(crate) fn new(client: JiraClient) -> Self {
        let site = client.config().site();
        let site_key = site
            .split_once("://")
            .map_or(site.as_str(), |(_, rest)| rest)
            .to_owned();
        Self {
            client,
            site_key,
            projects: Memo::new(),
            levels: Memo::new(),
            roles: Memo::new(),
            role_ids: Memo::new(),
            emails: Memo::new(),
        }
    }

    /// Who may read `issue`: the project's Browse Projects grants, narrowed to its security
    /// level's members when it has one. No one the connector can name when the project's
    /// grants or the level's members cannot be read: `access` unknown would let a host show
    /// the issue to everyone.
    ///
    /// # Errors
    /// A lookup's error other than a refusal (rejected credentials, rate limits past the
    /// budget, an unreachable Jira).
    pub(crate) async fn issue(&self, issue: &Issue) -> Result<Principals> {
        let Some(project) = project_of(issue) else {
            return Ok(Principals::nobody());
        };
        let Some(browse) = self.project(&project).await?.map(|g| g.for_issue(issue)) else {
            return Ok(Principals::nobody());
        };
        let Some(level) = &issue.fields.security else {
            return Ok(browse);
        };
        let level = self
            .level(&project, &level.id)
            .await?
            .map(|g| g.for_issue(issue));
        Ok(match level {
            Some(level) => browse.intersect(&level),
            None => Principals::nobody(),
        })
    }

    /// Who may read a comment restricted by `visibility` on `issue`, whose readers are
    /// `issue_access`: those of them in the comment's group or role. An unknown issue
    /// access, role or kind of visibility leaves no one.
    ///
    /// # Errors
    /// As [`Permissions::issue`].
    pub(crate) async fn comment(
        &self,
        issue: &Issue,
        issue_access: Option<&Principals>,
        visibility: &Visibility,
    ) -> Result<Principals> {
        let Some(readers) = issue_access.filter(|r| **r != Principals::nobody()) else {
            // Nobody narrowed is nobody: no lookups.
            return Ok(Principals::nobody());
        };
        let value = visibility.value.as_deref().unwrap_or_default();
        let allowed = match visibility.kind.as_str() {
            "group" => {
                let mut p = Principals::nobody();
                let cloud = self.client.is_cloud().await?;
                if let Some(group) =
                    group_principal(cloud, visibility.identifier.as_deref(), Some(value))
                {
                    p.add_group(&group);
                }
                p
            }
            "role" => {
                let Some(project) = project_of(issue) else {
                    return Ok(Principals::nobody());
                };
                let id = match &visibility.identifier {
                    Some(id) => Some(id.clone()),
                    None => self.role_id(&project, value).await?,
                };
                match id {
                    Some(id) => self
                        .role(&project, &id)
                        .await?
                        .map(|p| (*p).clone())
                        .unwrap_or_default(),
                    None => Principals::nobody(),
                }
            }
            _ => Principals::nobody(),
        };
        Ok(readers.intersect(&allowed))
    }

    /// The Browse Projects grants of `project`, once per run.
    async fn project(&self, project: &str) -> Result<Option<Arc<Grants>>> {
        self.projects
            .get(project.to_owned(), || async {
                let Some(scheme) = self.client.permission_scheme(project).await? else {
                    // Once per project and run: the memo keeps the answer.
                    tracing::warn!(
                        project,
                        "Jira refused this project's permission scheme (an administrator's token is needed): its issues, attachments and restricted comments get an access naming no one"
                    );
                    return Ok(None);
                };
                let holders = scheme
                    .permissions
                    .into_iter()
                    .filter(|g| g.permission == "BROWSE_PROJECTS" || g.permission == "BROWSE")
                    .map(|g| g.holder);
                Ok(Some(Arc::new(self.grants(project, holders).await?)))
            })
            .await
    }

    /// A security level's members in `project` (roles are the project's), once per run.
    async fn level(&self, project: &str, level: &str) -> Result<Option<Arc<Grants>>> {
        self.levels
            .get((project.to_owned(), level.to_owned()), || async {
                let Some(holders) = self.client.level_members(level).await? else {
                    return Ok(None);
                };
                Ok(Some(Arc::new(self.grants(project, holders).await?)))
            })
            .await
    }

    /// The members of one of `project`'s roles, once per run.
    async fn role(&self, project: &str, role: &str) -> Result<Option<Arc<Principals>>> {
        self.roles
            .get((project.to_owned(), role.to_owned()), || async {
                let Some(role) = self.client.project_role(project, role).await? else {
                    return Ok(None);
                };
                let mut p = Principals::nobody();
                let cloud = self.client.is_cloud().await?;
                for actor in role.actors {
                    if let Some(group) = &actor.actor_group {
                        let name = group.name.as_deref().or(actor.name.as_deref());
                        if let Some(group) = group_principal(cloud, group.group_id.as_deref(), name)
                        {
                            p.add_group(&group);
                        }
                    } else if actor.kind == "atlassian-group-role-actor" {
                        // Server/Data Center names the group as the actor's `name`.
                        if let Some(group) = &actor.name {
                            p.add_group(group);
                        }
                    } else {
                        let user = actor.actor_user.and_then(|u| u.account_id).or(actor.name);
                        if let Some(email) = self.email(user.as_deref()).await? {
                            p.add_email(&email);
                        }
                    }
                }
                Ok(Some(Arc::new(p)))
            })
            .await
    }

    /// The id of `project`'s role called `name` (Server/Data Center comments name roles only).
    async fn role_id(&self, project: &str, name: &str) -> Result<Option<String>> {
        let ids = self
            .role_ids
            .get(project.to_owned(), || async {
                Ok(self.client.project_role_ids(project).await?.map(Arc::new))
            })
            .await?;
        Ok(ids.and_then(|ids| {
            ids.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, id)| id.clone())
        }))
    }

    /// A user's e-mail by account id or user name, once per run, within the lookup bound.
    async fn email(&self, user: Option<&str>) -> Result<Option<String>> {
        let Some(user) = user.filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        if self.emails.len().await >= MAX_USER_LOOKUPS {
            tracing::warn!(
                max = MAX_USER_LOOKUPS,
                "too many users to look up; the rest are left out of access"
            );
            return Ok(None);
        }
        self.emails
            .get(user.to_owned(), || self.client.user_email(user))
            .await
    }

    /// Permission holders as grants: `anyone` is everyone, `applicationRole` every licensed
    /// user of the site (of one application when it names one), groups by id on Cloud and by
    /// name on Server/Data Center, users by e-mail, roles by their members, reporter and
    /// assignee per issue. Other holders (project lead, user and group custom fields, portal
    /// customers) are left out.
    async fn grants(
        &self,
        project: &str,
        holders: impl IntoIterator<Item = Holder>,
    ) -> Result<Grants> {
        let mut g = Grants::default();
        let cloud = self.client.is_cloud().await?;
        for h in holders {
            match h.kind.as_str() {
                "anyone" => g.principals.public = true,
                "applicationRole" => {
                    let users = format!("jira:{}/users", self.site_key);
                    match h.parameter.as_deref().map(str::trim) {
                        Some(app) if !app.is_empty() => {
                            g.principals.add_group(&format!("{users}/{app}"));
                        }
                        _ => g.principals.site_users = Some(users),
                    }
                }
                "group" => {
                    let name = h.group.as_ref().and_then(|g| g.name.clone());
                    // Cloud: the holder's `value` is the group id, `parameter` its name.
                    let id = h
                        .group
                        .as_ref()
                        .and_then(|g| g.group_id.clone())
                        .or_else(|| h.value.clone().filter(|_| cloud));
                    let name = name.or(h.parameter.clone());
                    if let Some(group) = group_principal(cloud, id.as_deref(), name.as_deref()) {
                        g.principals.add_group(&group);
                    }
                }
                "user" => {
                    let shown = h.user.as_ref().and_then(|u| u.email_address.clone());
                    let email = match shown {
                        Some(email) => Some(email),
                        None => {
                            let id = h.user.as_ref().and_then(|u| u.account_id.clone());
                            self.email(id.or(h.parameter).as_deref()).await?
                        }
                    };
                    if let Some(email) = email {
                        g.principals.add_email(&email);
                    }
                }
                "projectRole" => {
                    if let Some(role) = h.value.or(h.parameter)
                        && let Some(p) = self.role(project, &role).await?
                    {
                        g.principals.extend(&p);
                    }
                }
                "reporter" => g.reporter = true,
                "assignee" => g.assignee = true,
                other => tracing::debug!(holder = other, "permission holder left out of access"),
            }
        }
        Ok(g)
    }
}

/// How `access` names a group: on Cloud by its id, which a rename keeps (by its name where
/// Jira gives no id), on Server/Data Center by its name, its only identifier there.
fn group_principal(cloud: bool, id: Option<&str>, name: Option<&str>) -> Option<String> {
    let id = id.map(str::trim).filter(|s| !s.is_empty());
    let name = name.map(str::trim).filter(|s| !s.is_empty());
    let chosen = if cloud { id.or(name) } else { name.or(id) };
    chosen.map(str::to_owned)
}

/// The project an issue is in, by key (or id), as the project endpoints take it.
fn project_of(issue: &Issue) -> Option<String> {
    let p = issue.fields.project.as_ref()?;
    p.key.clone().or_else(|| p.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(public: bool, emails: &[&str], groups: &[&str]) -> Principals {
        let mut out = Principals {
            public,
            ..Principals::default()
        };
        emails.iter().for_each(|e| out.add_email(e));
        groups.iter().for_each(|g| out.add_group(g));
        out
    }

    #[test]
    fn intersections_keep_only_what_both_sides_name() {
        let everyone = p(true, &[], &[]);
        let devs = p(false, &["Ann@x.io"], &["devs", "ops"]);
        // Everyone narrowed to devs is devs, either way round.
        assert_eq!(everyone.intersect(&devs), devs);
        assert_eq!(devs.intersect(&everyone), devs);
        assert!(everyone.intersect(&everyone).public);
        // A group on both sides stays; a user named on one side only goes, even if they may
        // be in a group of the other (membership is not known).
        let level = p(false, &["bob@x.io"], &["devs"]);
        assert_eq!(devs.intersect(&level), p(false, &[], &["devs"]));
        assert_eq!(devs.intersect(&Principals::nobody()), Principals::nobody());
        assert_eq!(devs.to_access().emails, ["ann@x.io"]);
        assert_eq!(devs.to_access().groups, ["devs", "ops"]);
        assert!(everyone.to_access().public);
    }

    #[test]
    fn every_licensed_user_admits_the_sites_principals_but_is_not_public() {
        let site = Principals {
            site_users: Some("jira:j.local/users".into()),
            ..Principals::default()
        };
        let devs = p(false, &["ann@x.io"], &["devs"]);
        // A level's members are licensed users: they stay, either way round.
        assert_eq!(site.intersect(&devs), devs);
        assert_eq!(devs.intersect(&site), devs);
        // Everyone narrowed to the site's users is the site's users.
        assert_eq!(p(true, &[], &[]).intersect(&site), site);
        let access = site.to_access();
        assert!(!access.public);
        assert_eq!(access.groups, ["jira:j.local/users"]);
    }
}
