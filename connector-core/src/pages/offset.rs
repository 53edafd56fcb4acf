//! [`OffsetWalk`]: offset paging (`start`, `startAt`, `offset`) that does not skip items when
//! the result set shrinks under it.
//!
//! Offset paging asks "items 100 to 149" of a result set that can change between requests.
//! When an item before the cursor leaves the set (deleted, moved out of scope, its permission
//! changed), every later item moves one place forward and the item that was at 100 is now at
//! 99: the next request skips it, and a prune that trusted the listing deletes it. Ordering by
//! creation or key keeps edited items in place but cannot stop items from leaving.
//!
//! The walk asks each page a few items before where the last one ended and looks in it for the
//! last page's ids (its anchors): items after the latest anchor found are new. When no anchor
//! is found, items left before the page, so the walk steps back (twice as far each time) until
//! it finds one, or reaches the start and delivers from there. Items are delivered at least
//! once, never skipped; duplicates are possible (the sink upserts and version tokens skip
//! them). It is a small serialisable value, so a checkpoint stores it and a resumed walk
//! checks its first page too.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Items asked again before where the last page ended, to find where it ended now.
const OVERLAP: u64 = 5;

/// Ids of the last page kept as anchors (a page's last ids, the ones an overlap shows).
const ANCHORS_KEPT: usize = 100;

/// Step-backs in one walk after which the result set is taken to change faster than it can
/// be read.
const MAX_STEP_BACKS: u32 = 64;

/// Offset paging (`start`, `startAt`) that does not skip items when the result set shrinks
/// under it.
///
/// When an item before the cursor leaves the set mid-walk (deleted, moved out of scope, its
/// permission changed), every later item moves one place forward and plain offsets skip one;
/// a prune that trusted the listing then deletes it. The walk asks each page a few items
/// before where the last one ended and looks in it for the last page's ids: items after the
/// latest one found are new. When none is found, items left before the page, so it steps back
/// (twice as far each time) until it finds one, or reaches the start and delivers from there.
/// Items are delivered at least once, never skipped; duplicates are possible (the sink upserts
/// and version tokens skip them). It is a small serialisable value: a checkpoint stores it.
///
/// ```
/// use connector_core::pages::{OffsetWalk, Step};
/// # fn page(all: &[&str], offset: u64, limit: u64) -> (Vec<String>, bool) {
/// #     let items: Vec<String> = all.iter().skip(offset as usize).take(limit as usize).map(|s| s.to_string()).collect();
/// #     let last = offset as usize + items.len() >= all.len();
/// #     (items, last)
/// # }
/// let mut source = vec!["a", "b", "c", "d", "e", "f", "g"];
/// let (limit, mut walk, mut seen) = (3, OffsetWalk::new(), Vec::new());
/// while !walk.is_done() {
///     let offset = walk.offset(limit);
///     let (ids, last) = page(&source, offset, limit);
///     if let Step::Deliver { skip } = walk.accept(offset, &ids, last)? {
///         seen.extend(ids[skip..].iter().cloned());
///     }
///     // Two items leave the set after the first page: plain offsets would skip "d".
///     if seen.len() == 3 && source.len() == 7 {
///         source.retain(|id| *id != "a" && *id != "b");
///     }
/// }
/// assert_eq!(seen, ["a", "b", "c", "d", "e", "f", "g"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetWalk {
    /// The offset just after the last page delivered, as the set was when it was read.
    end: u64,
    /// The last page's last ids, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    anchors: Vec<String>,
    /// How far before the overlap the next request goes, while looking for an anchor.
    #[serde(default, skip_serializing_if = "is_zero")]
    back: u64,
    /// Step-backs so far in this walk.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    step_backs: u32,
    /// The last page was delivered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    done: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// What a page means to an [`OffsetWalk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Deliver the page's items from `skip` on; those before were delivered already. Ask the
    /// next page unless the walk [is done](OffsetWalk::is_done).
    Deliver {
        /// How many leading items of the page were delivered before.
        skip: usize,
    },
    /// Items left the set before this page, so it cannot be placed: deliver nothing from it
    /// and ask [`offset`](OffsetWalk::offset) again (it is earlier now).
    Again,
}

impl OffsetWalk {
    /// A walk from the first item.
    pub fn new() -> Self {
        Self::default()
    }

    /// A walk from `offset`, with nothing to find again: for a checkpoint that stored a plain
    /// offset (its first page is taken as it comes).
    pub fn resume_at(offset: u64) -> Self {
        Self {
            end: offset,
            ..Self::default()
        }
    }

    /// The offset to ask next with pages of `limit` items: a few items before where the last
    /// page ended (fewer than `limit`, so every page reaches past it), further while looking
    /// for an anchor. Pages of one item cannot overlap, so they are not checked: keep `limit`
    /// at 2 or more (a connector that shrinks its pages on errors stops at 2).
    pub fn offset(&self, limit: u64) -> u64 {
        let overlap = OVERLAP
            .min(self.anchors.len() as u64)
            .min(limit.saturating_sub(1));
        self.end.saturating_sub(overlap).saturating_sub(self.back)
    }

    /// Whether the last page was delivered.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Reads the page asked at `offset` (what [`offset`](Self::offset) returned) holding
    /// `ids`, in the service's order; `last` is whether the service says nothing follows it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidData`] after too many step-backs in one walk: the result set
    /// changes faster than it can be read.
    pub fn accept<S: AsRef<str>>(&mut self, offset: u64, ids: &[S], last: bool) -> Result<Step> {
        // Nothing to find (the first page, a plain resumed offset, or a page asked without
        // overlap): the page is taken as it comes.
        if self.anchors.is_empty() || offset >= self.end {
            self.delivered(offset, ids, last);
            return Ok(Step::Deliver { skip: 0 });
        }
        let anchors: HashSet<&str> = self.anchors.iter().map(String::as_str).collect();
        let found = ids.iter().rposition(|id| anchors.contains(id.as_ref()));
        match found {
            Some(at) => {
                self.delivered(offset, ids, last);
                Ok(Step::Deliver { skip: at + 1 })
            }
            // Back at the start without finding the last page: everything the set holds now
            // is delivered again rather than anything skipped.
            None if offset == 0 => {
                self.delivered(offset, ids, last);
                Ok(Step::Deliver { skip: 0 })
            }
            None => {
                self.step_backs += 1;
                if self.step_backs > MAX_STEP_BACKS {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "the listing changed faster than it could be read: offset paging \
                             lost its place {MAX_STEP_BACKS} times in one run"
                        ),
                    ));
                }
                let step = (ids.len().max(self.anchors.len()) as u64).max(1);
                self.back = self.back.saturating_mul(2).max(step);
                tracing::debug!(
                    offset,
                    back = self.back,
                    "items left the listing before this page; stepping back"
                );
                Ok(Step::Again)
            }
        }
    }

    fn delivered<S: AsRef<str>>(&mut self, offset: u64, ids: &[S], last: bool) {
        self.end = offset + ids.len() as u64;
        self.back = 0;
        // An empty page keeps the anchors it did not show (there is nothing else to find).
        if !ids.is_empty() {
            let from = ids.len().saturating_sub(ANCHORS_KEPT);
            self.anchors = ids[from..]
                .iter()
                .map(|id| id.as_ref().to_owned())
                .collect();
        }
        self.done = last || ids.is_empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Walks `set` with pages of `limit`, calling `change` with the page count before each
    /// request; returns the ids delivered, in order.
    fn walk(
        set: &mut Vec<u32>,
        limit: u64,
        mut change: impl FnMut(usize, &mut Vec<u32>),
    ) -> Result<Vec<u32>> {
        let mut walk = OffsetWalk::new();
        let mut seen = Vec::new();
        let mut requests = 0;
        while !walk.is_done() {
            change(requests, set);
            requests += 1;
            assert!(requests < 10_000, "the walk does not end");
            let offset = walk.offset(limit);
            let page: Vec<String> = set
                .iter()
                .skip(usize::try_from(offset).unwrap())
                .take(usize::try_from(limit).unwrap())
                .map(u32::to_string)
                .collect();
            let last = usize::try_from(offset).unwrap() + page.len() >= set.len();
            if let Step::Deliver { skip } = walk.accept(offset, &page, last)? {
                seen.extend(page[skip..].iter().map(|s| s.parse::<u32>().unwrap()));
            }
        }
        Ok(seen)
    }

    #[test]
    fn an_unchanging_set_is_read_once_in_order() {
        let mut set: Vec<u32> = (0..23).collect();
        let seen = walk(&mut set, 5, |_, _| {}).unwrap();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
    }

    #[test]
    fn items_leaving_before_the_cursor_do_not_make_it_skip() {
        let mut set: Vec<u32> = (0..30).collect();
        // After two pages, three read items leave: plain offsets would skip 10, 11 and 12.
        let seen = walk(&mut set, 5, |n, s| {
            if n == 2 {
                s.retain(|i| ![1, 4, 7].contains(i));
            }
        })
        .unwrap();
        for i in (0..30).filter(|i| ![1, 4, 7].contains(i)) {
            assert!(seen.contains(&i), "{i} was skipped: {seen:?}");
        }
    }

    #[test]
    fn more_items_leaving_than_the_overlap_step_back_and_still_skip_nothing() {
        let mut set: Vec<u32> = (0..100).collect();
        let seen = walk(&mut set, 10, |n, s| {
            if n == 3 {
                s.retain(|i| *i >= 25 || *i < 3);
            }
        })
        .unwrap();
        for i in 25..100 {
            assert!(seen.contains(&i), "{i} was skipped");
        }
    }

    #[test]
    fn the_whole_last_page_leaving_reads_again_from_the_start() {
        let mut set: Vec<u32> = (0..12).collect();
        let seen = walk(&mut set, 4, |n, s| {
            if n == 1 {
                s.retain(|i| *i >= 4);
            }
        })
        .unwrap();
        assert_eq!(&seen[..4], &[0, 1, 2, 3]);
        for i in 4..12 {
            assert!(seen.contains(&i));
        }
    }

    #[test]
    fn a_page_of_one_still_moves_forward() {
        let mut set: Vec<u32> = (0..4).collect();
        let seen = walk(&mut set, 1, |_, _| {}).unwrap();
        assert_eq!(seen, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_stored_walk_resumes_and_checks_its_first_page() {
        let mut walk = OffsetWalk::new();
        let ids = ["a", "b", "c"];
        assert_eq!(
            walk.accept(0, &ids, false).unwrap(),
            Step::Deliver { skip: 0 }
        );
        let stored = serde_json::to_string(&walk).unwrap();
        let mut resumed: OffsetWalk = serde_json::from_str(&stored).unwrap();
        // "a" left: the set is b c d e. The page asked two items early finds "c" first.
        let offset = resumed.offset(3);
        assert_eq!(offset, 1);
        assert_eq!(
            resumed.accept(offset, &["c", "d", "e"], true).unwrap(),
            Step::Deliver { skip: 1 }
        );
        // An old checkpoint's plain offset takes its first page as it comes.
        let mut plain = OffsetWalk::resume_at(40);
        assert_eq!(plain.offset(10), 40);
        assert_eq!(
            plain.accept(40, &["x"], true).unwrap(),
            Step::Deliver { skip: 0 }
        );
        assert!(plain.is_done());
    }

    #[test]
    fn a_set_that_never_settles_ends_with_an_error() {
        let mut walk = OffsetWalk::new();
        walk.accept(0, &["a", "b"], false).unwrap();
        let mut err = None;
        for _ in 0..200 {
            let offset = walk.offset(2).max(1);
            match walk.accept(offset, &["x", "y"], false) {
                Ok(_) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(err.unwrap().kind(), ErrorKind::InvalidData);
    }

    proptest! {
        /// Whatever leaves the set while it is walked, every item present from the first
        /// request to the last is delivered.
        #[test]
        fn no_item_present_throughout_is_skipped(
            n in 0u32..120,
            limit in 2u64..12,
            removals in proptest::collection::vec((0usize..40, 0u32..120), 0..30),
        ) {
            let mut set: Vec<u32> = (0..n).collect();
            let removed: HashSet<u32> = removals.iter().map(|(_, id)| *id).collect();
            let seen = walk(&mut set, limit, |request, s| {
                for (at, id) in &removals {
                    if *at == request {
                        s.retain(|i| i != id);
                    }
                }
            });
            // A set changing this fast may end the walk with an error; it never skips.
            if let Ok(seen) = seen {
                for i in (0..n).filter(|i| !removed.contains(i)) {
                    prop_assert!(seen.contains(&i), "{} skipped; seen {:?}", i, seen);
                }
            }
        }
    }
}
