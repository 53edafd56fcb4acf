//! Upper bounds for the numbers a config may carry.
//!
//! Every integer field of a config declares a maximum (`#[schemars(range(max = ...))]`; the
//! registry's declaration check names any field without one), so a hostile or mistyped number
//! (`page_size: 4294967295`) is refused with its field path when the config is read, instead
//! of being allocated from or multiplied into an overflow later. These are the bounds the
//! connectors share; a field whose service allows less declares its own, smaller one.

/// Items per page asked of a service, or entries per page of a listing (services cap their
/// own page sizes far lower; this bounds what the code would buffer for one page).
pub const MAX_PAGE_SIZE: u64 = 100_000;

/// A size in bytes (largest file, object or attachment held in memory): 4 GiB. Larger bodies
/// are delivered only spooled to a file ([`MAX_SPOOLED_BYTES`]).
pub const MAX_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A size in bytes of a body spooled to a file rather than held in memory
/// ([`crate::spool`]): 5 TiB, the largest object Amazon S3 stores.
pub const MAX_SPOOLED_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// A duration in seconds (timeouts, overlaps, waiting budgets): 30 days.
pub const MAX_SECONDS: u64 = 30 * 24 * 60 * 60;

/// Requests or tasks in flight at once.
pub const MAX_CONCURRENCY: u64 = 1_024;

/// Retries of one request.
pub const MAX_RETRIES: u64 = 100;

/// A count or position that is only compared or sent, never allocated from (pages to walk at
/// most, the first page or offset): 2^40, far beyond any real listing, and small enough that
/// adding a page size to it cannot overflow.
pub const MAX_COUNT: u64 = 1 << 40;
