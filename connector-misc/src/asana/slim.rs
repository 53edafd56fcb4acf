//! The id listing of prune: every task of the run's projects with `opt_fields` kept to what
//! tells where a task is read (its gid, its projects, whether it has subtasks), the
//! subtasks below them, and with `include_attachments` each task's attachments.

use std::collections::{HashMap, HashSet};

use connector_core::{Error, Result, SlimDocument, SyncContext};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde_json::Value;

use super::SOURCE;
use super::client::{PAGE_SIZE, SLIM_FIELDS};
use super::convert::{attachment_id, doc_id};
use super::model::Paged;
use super::pages::{MAX_DEPTH, Walk};

/// Attachment listings asked at the same time.
const CONCURRENCY: usize = 4;

/// What the id listing needs of a listed task.
struct Slim {
    gid: String,
    /// It has subtasks (or does not say).
    parent: bool,
    /// The gids of its projects.
    projects: Vec<String>,
}

impl Slim {
    /// A listed value; one without a gid names nothing a load could deliver.
    fn of(value: &Value) -> Option<Self> {
        let gid = value.get("gid").and_then(Value::as_str)?.to_owned();
        let parent = value
            .get("num_subtasks")
            .and_then(Value::as_u64)
            .is_none_or(|n| n > 0);
        let projects = value
            .get("projects")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.get("gid").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            gid,
            parent,
            projects,
        })
    }

    /// The index of its first project of the run, where a load reads it.
    fn home(&self, order: &HashMap<String, usize>) -> Option<usize> {
        self.projects
            .iter()
            .filter_map(|p| order.get(p))
            .min()
            .copied()
    }
}

impl Walk {
    /// Every id a full run delivers, a task page (with the subtasks and attachments of its
    /// tasks) per item. A listing that fails ends the stream with its error: never a partial
    /// set.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let projects = walk.listed_projects().await?;
            let order: HashMap<String, usize> = projects
                .iter()
                .enumerate()
                .map(|(i, p)| (p.gid.clone(), i))
                .collect();
            for (index, project) in projects.iter().enumerate() {
                let mut offset: Option<String> = None;
                let mut seen = HashSet::new();
                loop {
                    ctx.cancellation().check()?;
                    let url = walk.client.tasks_url_with(&project.gid, None, PAGE_SIZE, SLIM_FIELDS)?;
                    let page: Paged<Value> = walk.client.page(url, offset.as_deref()).await?;
                    let mut tasks = Vec::new();
                    for task in page.data.iter().filter_map(Slim::of) {
                        // A task in several projects of the run is read under the first.
                        if task.home(&order).is_none_or(|home| home == index) {
                            tasks.push(task);
                        }
                    }
                    let mut gids = Vec::new();
                    for task in &tasks {
                        gids.push(task.gid.clone());
                        if task.parent {
                            walk.subtask_ids(&task.gid, &order, 0, &mut gids).await?;
                        }
                    }
                    let mut ids: Vec<SlimDocument> = gids.iter().map(|g| SlimDocument::new(doc_id(g))).collect();
                    if walk.attachments {
                        ids.extend(walk.attachment_ids(gids).await?);
                    }
                    yield ids;
                    match page.next_page {
                        Some(next) if seen.insert(next.offset.clone()) => offset = Some(next.offset),
                        Some(_) => Err(Error::invalid_data(format!(
                            "Asana sent the same offset twice for the tasks of project {}",
                            project.gid
                        ))
                        .with_connector(SOURCE))?,
                        None => break,
                    }
                }
            }
        }
        .boxed()
    }

    /// The gids of the subtasks below `parent` (to the depth a load reads), those in a
    /// project of the run left to that project's listing, appended to `out`.
    fn subtask_ids<'a>(
        &'a self,
        parent: &'a str,
        order: &'a HashMap<String, usize>,
        depth: usize,
        out: &'a mut Vec<String>,
    ) -> futures::future::BoxFuture<'a, Result<()>> {
        async move {
            if depth >= MAX_DEPTH {
                return Ok(());
            }
            let listed: Vec<Value> = self.client.subtasks_with(parent, SLIM_FIELDS).await?;
            for sub in listed.iter().filter_map(Slim::of) {
                if sub.home(order).is_some() {
                    continue;
                }
                out.push(sub.gid.clone());
                if sub.parent {
                    self.subtask_ids(&sub.gid, order, depth + 1, out).await?;
                }
            }
            Ok(())
        }
        .boxed()
    }

    /// The ids of the attachments a load delivers for these tasks: those Asana holds (with a
    /// `download_url`) and not larger than `max_file_size` by their listed size.
    async fn attachment_ids(&self, tasks: Vec<String>) -> Result<Vec<SlimDocument>> {
        let max = self.max_file_size;
        let lists: Vec<Vec<SlimDocument>> = futures::stream::iter(tasks)
            .map(|gid| async move {
                let listed = self.client.attachments(&gid).await?;
                Ok::<_, Error>(
                    listed
                        .iter()
                        .filter(|a| a.download_url.is_some())
                        .filter(|a| a.size.is_none_or(|s| s <= max))
                        .map(|a| SlimDocument::new(attachment_id(&gid, &a.gid)))
                        .collect(),
                )
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(lists.concat())
    }
}
