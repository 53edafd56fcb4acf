//! The walks of an [`ItemsPath`] over a page's sub-responses (the entries of a batch or
//! multi-search answer, told by their shape in `envelope.rs`) that failed: the worst one
//! ([`ItemsPath::failed_sub_response`], [`FailedSub`]), a page with no match on which every
//! entry failed ([`ItemsPath::every_entry_failed`]) or that is itself a failed sub-response
//! ([`whole_failed`](super::envelope::whole_failed), [`ItemsPath::failed_whole`]), and the
//! entry a page with no match stopped at ([`sub_response_at`],
//! [`answered_beside`](super::gone::answered_beside)). Gone ones (404, 410) are `gone.rs`'s.
use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use super::envelope::{Envelope, Meaning, envelope};
use super::error_rule::{error_path_hint, shown, unusual_error};
use super::gone::gone_beside;
use super::listing::{ItemsPath, Shape, error_object, escape, lists_as_records, says_outage};
use super::place::Seen;

/// The sub-response walks of an items path: a page's failed entries, where it has some.
impl ItemsPath {
    /// Where an entry the path goes through is a sub-response ([`envelope`]: an entry with an
    /// HTTP-like status, in the shape of an Elasticsearch `_msearch` answer's `{"error": {…},
    /// "status": 429}`, a Microsoft Graph `$batch` answer's `{"id": …, "status": 429,
    /// "headers": {…}, "body": {…}}`, with or without its `body`, Google's streamed `{"error":
    /// {"code": 429, …}}`, a People API `{"httpStatusCode": 429, …}` or a JSON-RPC batch's
    /// `{"jsonrpc": "2.0", "error": {…}}`) that failed ([`Meaning::fails`]: 429, 5xx, 401,
    /// 403, or another 4xx but 404 and 410) and does not lead to the names the path needs
    /// after it. Read on every page, with items or not, whatever the path's filters (review39
    /// F1, review44 F1: beside a sub-response that delivered items, or under a plain path,
    /// such a page read as delivering none, then prune). Under a descendant name or search
    /// (`$..hits.hits[*]`) the entries of the lists around the matches are read
    /// ([`ItemsPath::failed_in_search`]).
    ///
    /// The status is the sub-response's: that of the entry the wildcard or filter selected,
    /// never that of an object below it, which is a record's data (review49 M3: an Airtable
    /// record's `fields` holding `status: 500` and `error` beside no `Attachments` failed
    /// every page); a record's own state (`"status": "error"`) is no status. Each level is
    /// queried once, and again with locations only where an entry failed (review49 P1).
    pub(crate) fn failed_sub_response(&self, body: &Value) -> Option<FailedSub> {
        let mut worst = None;
        for (entries, names, _) in &self.levels {
            let failed = |v| failed_entry(v, names);
            if !entries
                .query(body)
                .all()
                .into_iter()
                .any(|v| failed(v).is_some())
            {
                continue;
            }
            for m in entries.query_located(body) {
                let Some(found) = failed(m.node()) else {
                    continue;
                };
                // Where it stops: the deepest object the names reach, and the name it lacks.
                let mut pointer = m.location().to_json_pointer();
                let entry = pointer.clone();
                let mut at = m.node();
                let mut lacks = names.first().map_or("", String::as_str);
                for name in names {
                    lacks = name;
                    match at.get(name) {
                        Some(next) if next.is_object() => {
                            pointer.push('/');
                            pointer.push_str(&escape(name));
                            at = next;
                        }
                        _ => break,
                    }
                }
                let mut failed = FailedSub::new(format!("`{pointer}` holds no `{lacks}`"), &found);
                failed.refused_beside_gone(body, &entry);
                failed.keep_worst(&mut worst);
            }
        }
        if self.descends
            && let Some(found) = self.failed_in_search(body)
        {
            found.keep_worst(&mut worst);
        }
        worst
    }

    /// [`ItemsPath::failed_sub_response`] under a descendant name or search, where an
    /// entry's depth is not the path's: the entries, that hold no match, of the lists the
    /// matches lie in (outside any match, and not holding a match themselves) and of the
    /// lists at the top of the body (the root, or a member of the root: `$.responses`, where
    /// no entry matched at all).
    fn failed_in_search(&self, body: &Value) -> Option<FailedSub> {
        let matches: HashSet<String> = self
            .path
            .query_located(body)
            .locations()
            .map(|l| l.to_json_pointer())
            .collect();
        // What lies on the way to a match.
        let mut ways: HashSet<&str> = HashSet::new();
        for m in &matches {
            let mut at = m.as_str();
            while let Some((up, _)) = at.rsplit_once('/') {
                if !ways.insert(up) {
                    break;
                }
                at = up;
            }
        }
        let inside_a_match = |pointer: &str| {
            let mut at = pointer;
            while let Some((up, _)) = at.rsplit_once('/') {
                if matches.contains(up) {
                    return true;
                }
                at = up;
            }
            false
        };
        let outside = |l: &str| !matches.contains(l) && !inside_a_match(l);
        // A list that holds a match is records: its other entries are what the path's filter
        // left out (`$..data[?@.status == 200]` over a request log's 503 record, review60
        // L3); a batch's sub-responses lie above the matched lists, never beside the items.
        let holds_a_match: HashSet<&str> = matches
            .iter()
            .filter_map(|m| m.rsplit_once('/').map(|(list, _)| list))
            .collect();
        let mut lists: Vec<String> = ways
            .iter()
            .filter(|w| outside(w) && !holds_a_match.contains(**w))
            .map(|w| (*w).to_owned())
            .collect();
        // The lists at the top of the body that no match lies in are read only where
        // nothing matched (`_msearch`'s `$.responses`, every search failed): where something
        // did, a batch's sub-responses lie on the way to it, and a list beside it is records
        // (review55 M1: `$..data` over a request log's `{id, status, headers, body}` failed
        // every page on its 503 record; fix62's sibling case: `$..orders[*]` beside an
        // `attempts` log of two such records, one failed, failed every page too).
        let top = |l: &str| outside(l) && matches.is_empty();
        if !ways.contains("") && top("") {
            lists.push(String::new());
        }
        if let Value::Object(root) = body {
            lists.extend(
                root.keys()
                    .map(|k| format!("/{}", escape(k)))
                    .filter(|l| !ways.contains(l.as_str()) && top(l)),
            );
        }
        lists.sort();
        lists.dedup();
        let mut worst = None;
        for list in &lists {
            let Some(Value::Array(entries)) = body.pointer(list) else {
                continue;
            };
            for (i, entry) in entries.iter().enumerate() {
                let pointer = format!("{list}/{i}");
                if matches.contains(&pointer) || ways.contains(pointer.as_str()) {
                    continue;
                }
                let Some(found) = entry
                    .as_object()
                    .and_then(envelope)
                    .filter(|e| Meaning::of(e.status).fails())
                else {
                    continue;
                };
                let mut failed = FailedSub::new(
                    format!("`{pointer}` holds nothing `{}` matches", self.as_str()),
                    &found,
                );
                // As at the path's levels (review63 L2).
                failed.refused_beside_gone(body, &pointer);
                failed.keep_worst(&mut worst);
            }
        }
        worst
    }

    /// Where every entry of a level of the path ([`ItemsPath::failed_sub_response`]'s
    /// levels: `/runs/*` of `$.runs[*].result.steps[*].logs[?…]`) failed, on a page with no
    /// match: the entry is an error object, or an object the path names below it
    /// (`/runs/0/result`) carries an unusual error ([`unusual_error`]) and is an error
    /// object, or holds the name the path needs next and says the source throttled or
    /// failed ([`says_outage`]: `{"error": {"code": 503}, "steps": []}`; a CI run's
    /// `{"error": "exit code 1", "steps": []}` is the run's data, review60 M1). Such a page
    /// is not an empty one (issue 17: every run that failed read as the empty last page,
    /// then prune, where the path had a wildcard below the runs' `result`); unless
    /// the path's last filter left entries out (those are listed: review29 F1). An
    /// object with other members and without the list (a log document's `error.message`
    /// beside its `message`) is data, as [`ItemsPath::why_none`] reads it.
    pub(super) fn every_entry_failed(&self, body: &Value, seen: &Seen<'_>) -> Result<(), String> {
        // Where the last filter left entries out, something was listed: a run that failed
        // beside logs the filter dropped is that run's data (review29 F1). A one-list path's
        // filter chose a list, not rows; a descendant search's cut is not told here.
        if self.filtered() {
            match (&self.chosen_among, self.shape) {
                (_, Shape::OneList) => {}
                (Some(among), _) if among.query(body).is_empty() => {}
                _ => return Ok(()),
            }
        }
        for (entries, names, _) in &self.levels {
            let located = entries.query_located(body);
            if located.is_empty() {
                continue;
            }
            let mut first = None;
            let mut all = true;
            for m in located {
                let mut pointer = m.location().to_json_pointer();
                let mut at = m.node();
                let mut failed = None;
                let mut depth = 0;
                while let Some(o) = at.as_object() {
                    let next = names.get(depth);
                    let error_like = error_object(o);
                    let holds_next = next.is_some_and(|n| o.contains_key(n));
                    // Beside the list it needs next, an error is the record's own (a CI
                    // run's `{"error": "exit code 1", "steps": []}`) unless it says the source
                    // throttled or failed (review60 M1: a listing whose last page held only
                    // failed runs failed every sync, for good).
                    if (error_like || (depth > 0 && holds_next && says_outage(o)))
                        && let Some((member, v)) =
                            unusual_error(at, &lists_as_records(body, &pointer), seen.usual)
                    {
                        failed = Some(format!("`{pointer}/{member}` is set: {}", shown(v)));
                        break;
                    }
                    let Some(next) = next.and_then(|n| Some((n, o.get(n)?))) else {
                        break;
                    };
                    pointer.push('/');
                    pointer.push_str(&escape(next.0));
                    at = next.1;
                    depth += 1;
                }
                match failed {
                    Some(why) => {
                        first.get_or_insert(why);
                    }
                    None => {
                        all = false;
                        break;
                    }
                }
            }
            if all && let Some(first) = first {
                return Err(format!(
                    "every entry `{entries}` selects failed, not one that holds none: {first} \
                     ({})",
                    error_path_hint(seen.usual)
                ));
            }
        }
        Ok(())
    }

    /// The failed sub-response the whole answer is
    /// ([`whole_failed`](super::envelope::whole_failed), found by
    /// [`ItemsPath::why_none`]: [`Means::Failed`](super::listing::Means::Failed)), on a page
    /// where the path matches nothing (`why`). Such a page fails anyway; what its status means
    /// says how (review60 M2: a throttle read as a config error on `items_path`, never
    /// retried).
    pub(crate) fn failed_whole(&self, found: &Envelope<'_>, why: &str) -> FailedSub {
        FailedSub::new(
            format!(
                "whole answer is a sub-response's (`items_path` `{}` matches nothing in it: \
                 {why})",
                self.as_str()
            ),
            found,
        )
    }
}

/// A sub-response that was throttled or failed ([`ItemsPath::failed_sub_response`]).
#[derive(Debug)]
pub(crate) struct FailedSub {
    /// Where it lies and what its error says.
    pub(crate) why: String,
    /// Its status.
    pub(crate) status: u64,
    /// What it means for the page: [`Meaning::of`] its status, but a 424 that depends on a
    /// gone entry is refused (review60 L1).
    pub(crate) meaning: Meaning,
    /// The wait its entry asks for ([`Envelope::retry_after`]: a Microsoft Graph `$batch`
    /// answer's `headers.Retry-After`, Google's `RetryInfo`), where it gives one.
    pub(crate) retry_after: Option<Duration>,
}

impl FailedSub {
    /// The failed sub-response `found`, `at` saying where it lies and what it lacks, and
    /// the request it answers where it names one ([`entry_named`]).
    fn new(at: String, found: &Envelope<'_>) -> Self {
        let status = found.status;
        let error = found.error.map_or_else(String::new, |(member, v)| {
            format!(" and its `{member}` is set: {}", shown(v))
        });
        let id = entry_named(found.id, ", ");
        Self {
            why: format!(
                "{at}{error} (status {status}{id}: a sub-response that failed, not one that \
                 holds none)"
            ),
            status,
            meaning: Meaning::of(status),
            retry_after: found.retry_after,
        }
    }

    /// A 424 (Failed Dependency) at `entry` beside a gone entry (404, 410) of its list is
    /// refused, not retried (review60 L1: retried as an outage on every attempt of every
    /// run), and the message names the gone entry by its position and its id, as any failed
    /// entry is named (review63 L2).
    ///
    /// Why refused: a 424 exists only where a request it depends on failed (Graph's
    /// `dependsOn`), and the answer does not say which (Graph's responses carry no
    /// `dependsOn`). Where that request was throttled, failed at the source or had its
    /// credentials refused, that entry outranks the 424 ([`FailedSub::keep_worst`]) and is
    /// what the page reports, with its own kind; where it was refused (400), both are
    /// refused. What is left is a chain that ends at a gone entry (or one that answered, which
    /// a 424 does not follow): no retry heals it, so retrying it spent every attempt of every
    /// run for nothing. The gone entry beside it is the likeliest root, not a proven one, and
    /// the message says "beside", not "depends on". A 424 with no gone entry beside it stays an
    /// outage: its dependency may heal.
    fn refused_beside_gone(&mut self, body: &Value, entry: &str) {
        if self.status != 424 {
            return;
        }
        let Some((gone, id)) = gone_beside(body, entry) else {
            return;
        };
        let id = entry_named(id, "");
        let what = if id.is_empty() {
            "404/410".to_owned()
        } else {
            format!("{id}, 404/410")
        };
        self.why.push_str(&format!(
            "; beside gone `{gone}` ({what}), which no retry heals"
        ));
        self.meaning = Meaning::Refused;
    }

    /// Keeps in `worst` whichever of it and this one says more about the page (review55 M2:
    /// a batch's entries come in any order, and a 424 or 400 listed before a 429 hid the
    /// throttle and its wait): a throttle, the longest wait first, over an outage, over
    /// refused credentials, over another refused request; a 424 (failed because an entry it
    /// depends on did) least. Of two alike, the first in the document stays.
    pub(crate) fn keep_worst(self, worst: &mut Option<Self>) {
        let rank = |f: &Self| (f.meaning.rank(f.status), f.retry_after);
        if worst.as_ref().is_none_or(|w| rank(&self) > rank(w)) {
            *worst = Some(self);
        }
    }
}

/// `entry `id` "mbx-7"` after `lead`: the request a sub-response answers, by the member
/// that names it ([`Envelope::id`]), its value shown as any response value is (clipped,
/// secrets redacted); empty where it names none. After the status, not between what the
/// entry lacks and its error, which messages and tests read as one phrase.
pub(super) fn entry_named(id: Option<(&str, &Value)>, lead: &str) -> String {
    id.map_or_else(String::new, |(member, v)| {
        format!("{lead}entry `{member}` {}", shown(v))
    })
}

/// `entry` as a sub-response that failed ([`Meaning::fails`]), where the `names` the path
/// needs after it do not lead from it to a value ([`leads_to`]).
fn failed_entry<'v>(entry: &'v Value, names: &[String]) -> Option<Envelope<'v>> {
    let o = entry.as_object()?;
    if leads_to(entry, names) {
        return None;
    }
    envelope(o).filter(|e| Meaning::of(e.status).fails())
}

/// Whether the names the path needs after an entry lead from `entry` to a value that is not
/// `null`: a sub-response that delivered (`{"hits": {…}, "status": 500, "error": "partial"}`
/// is its own report beside its hits).
pub(super) fn leads_to(entry: &Value, names: &[String]) -> bool {
    names
        .iter()
        .try_fold(entry, |at, name| at.get(name))
        .is_some_and(|v| !v.is_null())
}

/// The sub-response at `pointer` (`value`), or the one it is a member of where that is an
/// entry of a list (a `$batch` entry's `body`), with that sub-response's pointer.
pub(super) fn sub_response_at<'v, 'p>(
    body: &'v Value,
    pointer: &'p str,
    value: &'v Value,
) -> Option<(&'p str, Envelope<'v>)> {
    if let Some(found) = value.as_object().and_then(envelope) {
        return Some((pointer, found));
    }
    let (up, _) = pointer.rsplit_once('/')?;
    let (list, _) = up.rsplit_once('/')?;
    if !body.pointer(list).is_some_and(Value::is_array) {
        return None;
    }
    Some((up, body.pointer(up)?.as_object().and_then(envelope)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json_path::JsonPath;

    use super::*;

    /// Issue 17: a path with no name below a wildcard or filter, and no descendant name or
    /// search, has nothing to read for sub-responses (`ItemsPath::failed_sub_response`
    /// answers at once): the plain `$.data` and `$.data[*]` pay nothing for the check.
    #[test]
    fn plain_paths_read_no_sub_responses() {
        for path in ["$.data", "data", "$.data[*]", "$.result.items", "$[*]"] {
            let p = ItemsPath::parse(path).unwrap();
            assert!(p.levels.is_empty() && !p.descends, "{path}");
        }
        let p = ItemsPath::parse("$.responses[*].body.value[?@.x]").unwrap();
        let levels: Vec<(String, Vec<String>)> = p
            .levels
            .iter()
            .map(|(l, names, _)| (l.to_string(), names.clone()))
            .collect();
        assert_eq!(
            levels,
            [(
                JsonPath::parse("$.responses[*]").unwrap().to_string(),
                vec!["body".to_owned(), "value".to_owned()]
            )]
        );
        // The entries the user's filter chose, kept beside the wildcard (review71 L1).
        let p = ItemsPath::parse("$.responses[?@.status == 200].hits.hits[*]").unwrap();
        let chosen: Vec<_> = p
            .levels
            .iter()
            .map(|(_, _, c)| c.as_ref().map(ToString::to_string))
            .collect();
        let want = JsonPath::parse("$.responses[?@.status == 200]").unwrap();
        assert_eq!(chosen, [Some(want.to_string())]);
        let p = ItemsPath::parse("$.responses[*].hits.hits[?@.x]").unwrap();
        assert!(p.levels[0].2.is_none());
        assert!(ItemsPath::parse("$..hits.hits[*]").unwrap().descends);
    }
}
