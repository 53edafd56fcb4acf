//! [`RestApiCheckpoint`]: the position of the next page.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// Which page comes next.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum At {
    /// The only request of an unpaginated endpoint.
    Single,
    /// Page number.
    Page {
        /// The page.
        page: u64,
    },
    /// Item offset.
    Offset {
        /// The offset.
        offset: u64,
    },
    /// Opaque cursor; `None` for a first request that sends no cursor.
    Cursor {
        /// The cursor.
        cursor: Option<String>,
    },
    /// The URL of the next page (`Link` header or a next URL in the body).
    Url {
        /// The URL.
        url: String,
    },
}

/// A position: the next page and what the run learned so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The page to fetch.
    pub at: At,
    /// Pages fetched before it in this run (for `max_pages` across a resume).
    pub pages: u64,
    /// Whether a page came back full (as many items as requested), which shows the server
    /// honours the page size, so a shorter page is the last.
    #[serde(default)]
    pub full: bool,
    /// Items listed before it in this run, compared with a `total` the API reports (`0` in a
    /// checkpoint written before it was kept, which only delays the stop to the empty page).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items: u64,
    /// A hash of the previous page's item ids (page and offset pagination), so a page that
    /// repeats it (an API that ignores the page parameter) ends the listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// Where the run's first page with items held them (the parent of its first item, list
    /// indexes written `*`), for a path with filters: a later page with no match is an empty
    /// page only where a list (or record map) stands there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// A place carried from the run before ([`Learned::place`]): read as `place` until this
    /// run learns its own from its first page with items (review18 R3: the API's layout may
    /// have changed since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<String>,
    /// The `items_path` (with its `$`) that `place` or `carried` was learned for: a place
    /// learned for another path is dropped where a run starts or resumes (review18 R3); one
    /// written before it was kept (fix11-fix13's formats) is read there as `carried`, a hint
    /// (review20 F3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_for: Option<String>,
    /// Hashes of the `error`/`errors` members the run's pages with items carried: normal for
    /// this API, so a page with no items that carries one of them is not failed for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usual: Vec<String>,
    /// Pages in a row, before this one, with no items and the same entries under the path's
    /// last filter (a filtered page or offset walk), and a hash of those entries: a walk
    /// whose pages stay so ends, since nothing tells it where the listing ends.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub idle: u64,
    /// The hash of the entries under the last filter of the page before, when it had no items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_hash: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

// The repeated-cursor guard compares where a page is, not how the run got there.
impl Hash for Position {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.at.hash(state);
    }
}

/// Where a `rest_api` sync resumes: the next page, or nothing when the listing is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestApiCheckpoint {
    /// The next page; `None` when every page was delivered.
    pub next: Option<Position>,
    /// With `next` `None`: what the finished run learned of the API, which the next
    /// incremental run starts with (`carry_over`): a quiet run, whose pages hold no items,
    /// learns nothing itself (review15 N5). Empty while `next` holds it.
    #[serde(default, skip_serializing_if = "Learned::is_empty")]
    pub learned: Learned,
}

/// What a run learned of the API from its pages with items ([`Position::place`],
/// [`Position::usual`]), carried past the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learned {
    /// [`Position::place`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// [`Position::place_for`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_for: Option<String>,
    /// [`Position::usual`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usual: Vec<String>,
}

impl Learned {
    /// What `pos` holds.
    pub(crate) fn of(pos: &Position) -> Self {
        let place = pos.place.clone().or_else(|| pos.carried.clone());
        Self {
            place_for: place.as_ref().and(pos.place_for.clone()),
            place,
            usual: pos.usual.clone(),
        }
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.place.is_none() && self.usual.is_empty()
    }
}
