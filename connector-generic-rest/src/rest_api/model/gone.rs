//! Gone sub-responses (404, 410: a rolled-off index, a deleted user, or a typo in one request
//! of a batch): the ones a page passes beside, noted for a warning and Test Connection
//! ([`ItemsPath::gone_entries`], [`GoneNote`]), the user's filter that leaves one out
//! ([`ItemsPath::filtered_out`]), and `error_path`'s rule for a gone entry's error
//! ([`ItemsPath::set_error`]).

use std::collections::HashSet;

use serde_json::Value;
use serde_json_path::JsonPath;

use super::envelope::{Envelope, Meaning, envelope, own_status, people_entry};
use super::error_rule::{is_set, shown};
use super::listing::ItemsPath;
use super::sub_response::{entry_named, leads_to};

/// The gone sub-response walks of an items path.
impl ItemsPath {
    /// The gone sub-responses (404, 410) among the entries the path's levels select (as
    /// [`ItemsPath::failed_sub_response`] reads them), each noted in `gone` ([`gone_note`]),
    /// on a page that passes beside them: a rolled-off index passes a sync, but so does a
    /// typo in one index name, so neither is silent (review69 M1). Each level is queried
    /// once, and again with locations only where an entry is gone. Not under a descendant
    /// name or search (`$..`), whose entries lie at no one depth. Nor where the path's own
    /// filter leaves the entry out ([`ItemsPath::filtered_out`]).
    pub(crate) fn gone_entries(&self, body: &Value, gone: &mut Vec<GoneNote>) {
        for (entries, names, chosen) in &self.levels {
            fn gone_at<'v>(v: &'v Value, names: &[String]) -> Option<Envelope<'v>> {
                let o = v.as_object()?;
                if leads_to(v, names) {
                    return None;
                }
                envelope(o).filter(|e| Meaning::of(e.status) == Meaning::Gone)
            }
            let found = |v| gone_at(v, names);
            if !entries
                .query(body)
                .all()
                .into_iter()
                .any(|v| found(v).is_some())
            {
                continue;
            }
            // Read only on a page with a gone entry.
            let mut kept: Option<HashSet<String>> = None;
            for m in entries.query_located(body) {
                let Some(e) = found(m.node()) else {
                    continue;
                };
                let pointer = m.location().to_json_pointer();
                if let Some(chosen) = chosen {
                    let kept = kept.get_or_insert_with(|| pointers(chosen, body));
                    if !kept.contains(&pointer) {
                        continue;
                    }
                }
                note(gone, gone_note(&pointer, &e));
            }
        }
    }

    /// Whether the entry at `pointer` is one of a level's entries ([`ItemsPath::levels`])
    /// that the path's own filters leave out (`/responses/1` under
    /// `$.responses[?@.status == 200].hits.hits[*]`, its status 404). Such an entry is not
    /// warned of nor reported by Test Connection when it is gone (404, 410): the user said
    /// which sub-responses hold records, and an entry left out on purpose (a Graph mailbox
    /// without a licence) would otherwise fail Test Connection for good (review71 L1). A
    /// failed one (429, 5xx, 401, 403, another 4xx) is still read through the filter, as a
    /// wildcard: a filter does not hide a throttle.
    pub(crate) fn filtered_out(&self, body: &Value, pointer: &str) -> bool {
        self.levels.iter().any(|(entries, _, chosen)| {
            chosen.as_ref().is_some_and(|chosen| {
                pointers(entries, body).contains(pointer)
                    && !pointers(chosen, body).contains(pointer)
            })
        })
    }

    /// Where this path is `error_path`, the first set value at it ([`is_set`]) that is not
    /// the error of a gone sub-response (404, 410: [`gone_entry`]): `Ok(Some(…))`, which
    /// fails the page. A gone entry's error is read as without `error_path` (review63: the
    /// README's own advice, `$.responses[*].error` for `_msearch`, failed every page that
    /// held one rolled-off index beside searches that answered): beside an entry that
    /// delivered it passes (`Ok(None)`); where none did, `Err` says which entry is gone, and
    /// the page fails as a page of only gone sub-responses does ([`Means::Gone`]).
    ///
    /// [`Means::Gone`]: super::listing::Means::Gone
    ///
    /// # Errors
    /// "`/responses/1` (entry `id` "7") was 404/410 (gone) …", where every set value is a
    /// gone entry's and one of them has no entry beside it that delivered.
    ///
    /// Each gone entry it excuses is noted in `excused` ([`gone_note`]): the page passes, but
    /// the fetch warns of it, and Test Connection reports it (fix69, review69 M1); unless
    /// `chosen_out` says the user's `items_path` leaves that entry out
    /// ([`ItemsPath::filtered_out`], review71 L1).
    pub(crate) fn set_error<'v>(
        &self,
        body: &'v Value,
        excused: &mut Vec<GoneNote>,
        chosen_out: impl Fn(&str) -> bool,
    ) -> Result<Option<&'v Value>, String> {
        // Located (a pointer per match) only on a page where something is set, as before.
        if !self.path.query(body).all().into_iter().any(is_set) {
            return Ok(None);
        }
        let mut gone = None;
        for m in self.path.query_located(body) {
            if !is_set(m.node()) {
                continue;
            }
            let pointer = m.location().to_json_pointer();
            match gone_entry(body, &pointer) {
                None => return Ok(Some(m.node())),
                Some((entry, found, true)) => {
                    if !chosen_out(&entry) {
                        note(excused, gone_note(&entry, &found));
                    }
                }
                Some((entry, found, false)) => {
                    gone.get_or_insert_with(|| {
                        format!(
                            "`error_path` `{}` is set at `{pointer}`: {}, and `{entry}`{} was \
                             404/410 (gone) and no sub-response beside it answered",
                            self.as_str(),
                            shown(m.node()),
                            entry_named(found.id, ", ")
                        )
                    });
                }
            }
        }
        gone.map_or(Ok(None), Err)
    }
}

/// The pointers of what `path` selects in `body`.
fn pointers(path: &JsonPath, body: &Value) -> HashSet<String> {
    path.query_located(body)
        .locations()
        .map(|l| l.to_json_pointer())
        .collect()
}

/// A gone sub-response (404, 410) that a page passed beside, for a warning and Test
/// Connection ([`gone_note`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoneNote {
    /// Which entry: its pointer and what names its request ("`/responses/1`, entry `id`
    /// "u9""), the same on every page that holds it, whatever its error's text (Graph's
    /// carries the request's id and date): a walk warns of each once (review71 L2).
    pub(crate) entry: String,
    /// "`/responses/1` (status 404, entry `id` "7"), its `error` is set: {…}".
    pub(crate) text: String,
}

/// The note of a gone sub-response (404, 410) that a page passed beside, for a warning and
/// Test Connection: "`/responses/1` (status 404, entry `id` "7"), its `error` is set: {…}",
/// its values shown as any response value is (clipped, secrets redacted).
pub(crate) fn gone_note(entry: &str, found: &Envelope<'_>) -> GoneNote {
    let error = found.error.map_or_else(String::new, |(member, v)| {
        format!(", its `{member}` is set: {}", shown(v))
    });
    let named = entry_named(found.id, ", ");
    GoneNote {
        entry: format!("`{entry}`{named}"),
        text: format!("`{entry}` (status {}{named}){error}", found.status),
    }
}

/// `gone` added to `notes`, where its entry is not there yet (an entry found on both routes).
fn note(notes: &mut Vec<GoneNote>, gone: GoneNote) {
    if !notes.iter().any(|n| n.entry == gone.entry) {
        notes.push(gone);
    }
}

/// Another entry of the list the sub-response at `entry` lies in that is gone (404, 410),
/// where one is: its pointer, and what names its request ([`Envelope::id`]).
pub(super) fn gone_beside<'v>(
    body: &'v Value,
    entry: &str,
) -> Option<(String, Option<(&'static str, &'v Value)>)> {
    let (list, own) = entry.rsplit_once('/')?;
    let Some(Value::Array(entries)) = body.pointer(list) else {
        return None;
    };
    entries.iter().enumerate().find_map(|(i, e)| {
        let found = e.as_object().and_then(envelope)?;
        (i.to_string() != own && Meaning::of(found.status) == Meaning::Gone)
            .then(|| (format!("{list}/{i}"), found.id))
    })
}

/// The entry of a list that a value at `pointer` lies in (the object directly in the
/// list, the nearest above the value), where it is a gone sub-response (404, 410): its pointer,
/// its envelope, and whether another entry of its list delivered (no sub-response that failed
/// or is gone: an `_msearch` search that answered is no envelope).
fn gone_entry<'v>(body: &'v Value, pointer: &str) -> Option<(String, Envelope<'v>, bool)> {
    let mut at = pointer;
    let (list, own) = loop {
        let (up, own) = at.rsplit_once('/')?;
        if body.pointer(up).is_some_and(Value::is_array) {
            break (up, own);
        }
        at = up;
    };
    // Only an entry with a status of its own, as a batch's entries carry (`_msearch`'s and
    // Graph's `status`, People's `httpStatusCode` or `requestedResourceName`): a status read
    // inside its `error` is a whole stream's end (Google's streamed `{"error": {"code":
    // 404}}` after records), which a page that stops there must not pass (review69 L4).
    let object = body.pointer(at)?.as_object()?;
    if own_status(object).is_none() && people_entry(object).is_none() {
        return None;
    }
    let found = envelope(object).filter(|e| Meaning::of(e.status) == Meaning::Gone)?;
    let Some(Value::Array(entries)) = body.pointer(list) else {
        return None;
    };
    let delivered = entries.iter().enumerate().any(|(i, e)| {
        i.to_string() != own
            && e.as_object()
                .and_then(envelope)
                .is_none_or(|e| Meaning::of(e.status) == Meaning::Answered)
    });
    Some((at.to_owned(), found, delivered))
}

/// Whether another entry of the list the sub-response at `entry` lies in answered (1xx to
/// 3xx): what excuses a gone one (404, 410) from failing a page with no match.
pub(super) fn answered_beside(body: &Value, entry: &str) -> bool {
    let Some((list, own)) = entry.rsplit_once('/') else {
        return false;
    };
    let Some(Value::Array(entries)) = body.pointer(list) else {
        return false;
    };
    entries.iter().enumerate().any(|(i, e)| {
        i.to_string() != own
            && e.as_object()
                .and_then(envelope)
                .is_some_and(|e| Meaning::of(e.status) == Meaning::Answered)
    })
}
