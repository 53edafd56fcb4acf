//! Fetching items again by id ([`RefetchConnector`](connector_core::RefetchConnector)): the
//! failed items of the last run, or a host's `file_filter`.
//!
//! Each id names its course module (`moodle_{modname}_{cmid}`, a discussion
//! `moodle_forum_{cmid}_{discussion}`, an attachment `moodle_assign_{cmid}_file:…`);
//! `core_course_get_course_module` tells the module's course, and the course is read as a run
//! reads it (its contents and the calls of the kinds asked for), keeping the ids asked: so an
//! item fetched again is the document a run would give, with the same access and version. A
//! discussion is found on its forum's discussion pages (there is no call for one discussion
//! with its group and display period). Without `core_course_get_course_module` in the
//! token's service, every course of the run is looked at.

use std::collections::{BTreeMap, HashSet};

use connector_core::{Batch, ErrorKind, Result, SyncContext};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::pages::{MAX_DISCUSSION_PAGES, Walk};

/// The course module an id names, if it names one.
fn cmid_of(id: &str) -> Option<i64> {
    let rest = id.strip_prefix(SOURCE)?.strip_prefix('_')?;
    let (_, rest) = rest.split_once('_')?;
    let digits: &str = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .filter(|d| !d.is_empty())?;
    digits.parse().ok()
}

impl Walk {
    /// The documents of `ids`, a course per item; an id whose module, course or discussion is
    /// gone (or out of the run's courses) gives nothing.
    pub(crate) fn fetch_ids(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let wanted: HashSet<String> = ids.into_iter().filter(|id| cmid_of(id).is_some()).collect();
            if wanted.is_empty() {
                return;
            }
            let (userid, allowed) = walk.functions().await?;
            let cmids: HashSet<i64> = wanted.iter().filter_map(|id| cmid_of(id)).collect();
            // The course of each module; `None`: every course of the run is looked at.
            let mut courses: Option<HashSet<i64>> = Some(HashSet::new());
            if allowed.is_empty() || allowed.contains("core_course_get_course_module") {
                for cmid in &cmids {
                    match walk.client.course_module(*cmid).await {
                        Ok(found) => {
                            if let Some(c) = courses.as_mut() {
                                c.insert(found.cm.course);
                            }
                        }
                        // Deleted since: nothing to fetch.
                        Err(e) if e.kind() == ErrorKind::NotFound => {}
                        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                            tracing::debug!(connector = SOURCE, "core_course_get_course_module refused; every course is looked at: {e}");
                            courses = None;
                            break;
                        }
                        Err(e) => Err(e)?,
                    }
                }
            } else {
                courses = None;
            }
            if courses.as_ref().is_some_and(HashSet::is_empty) {
                return;
            }
            for course in walk.courses(userid, &allowed, courses.as_ref()).await? {
                ctx.cancellation().check()?;
                let (mut batch, forums) = walk
                    .modules(&ctx, &course, &allowed, None, Some(&wanted))
                    .await?;
                // The discussions asked, by forum.
                let mut asked: BTreeMap<i64, usize> = BTreeMap::new();
                for forum in &forums {
                    let prefix = format!("{SOURCE}_forum_{}_", forum.cmid);
                    let n = wanted.iter().filter(|id| id.starts_with(&prefix)).count();
                    if n > 0 {
                        asked.insert(forum.cmid, n);
                    }
                }
                for forum in forums.iter().filter(|f| asked.contains_key(&f.cmid)) {
                    let mut left = asked.get(&forum.cmid).copied().unwrap_or(0);
                    for page in 0..MAX_DISCUSSION_PAGES {
                        let (part, done, _) = walk
                            .discussions(&ctx, &course, forum, page, None, Some(&wanted))
                            .await?;
                        left = left.saturating_sub(
                            part.documents.len() + part.failures.len() + part.unchanged.len(),
                        );
                        batch.append(part);
                        if done || left == 0 {
                            break;
                        }
                    }
                }
                yield batch;
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::cmid_of;

    #[test]
    fn ids_name_their_module() {
        assert_eq!(cmid_of("moodle_page_41"), Some(41));
        assert_eq!(cmid_of("moodle_forum_40_90"), Some(40));
        assert_eq!(cmid_of("moodle_assign_48_file:/rubric.txt"), Some(48));
        assert_eq!(cmid_of("no-such-item-3f9e"), None);
        assert_eq!(cmid_of("moodle_page_"), None);
    }
}
