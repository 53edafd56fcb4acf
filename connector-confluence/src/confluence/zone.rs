//! The zone CQL reads dates in, and the start of an incremental search written so that no
//! reading of it is later than the window's start.
//!
//! CQL compares `lastmodified` with wall-clock text (`"yyyy-MM-dd HH:mm"`), and which zone it
//! reads that text in is not settled: Atlassian's CQL field reference says "relative to your
//! configured time zone (which is by default the Confluence server's time zone)", the user's;
//! Atlassian's CONFCLOUD-70966 says Cloud's content search reads it in the *site's* default
//! zone. A start written in the wrong one of them is hours late, and every edit of those
//! hours is lost for good. So the start is written in the **most western** of the zones it may
//! be read in: the API user's (`timezone_offset` when configured, else
//! `/rest/api/user/current` → `timeZone`) and, on Cloud, the site's default
//! (`/rest/api/settings/systemInfo` → `defaultTimeZone`; Data Center has no such endpoint and
//! its docs name the user's zone, which defaults to the server's). Text read in a zone further
//! east denotes an earlier instant, so the bound is never later than the window's start under
//! either reading; read in the western zone it is a minute early, in the eastern one a few
//! hours early (more listing, no more downloads: unchanged pages are skipped by their
//! fingerprints, and results are filtered exactly on `version.when`). When a zone cannot be
//! learnt, the start is widened by 14 hours, which holds in every zone on Earth.
//!
//! Why not CQL's zone-free `lastmodified >= now("-Nm")` (Atlassian's field reference shows
//! `created >= now("-4w")`; the increments are `(+/-)nn(y|M|w|d|h|m)`, `m` = minutes): `now()`
//! is evaluated when a request is served, not when the run starts. Cloud's `_links.next`
//! carries the query as first sent, so every later page of a run that takes hours is a search
//! from a later start; a checkpoint stores that link, so a run resumed a day later would
//! search from a day later than its window, dropping from the result set every page edited in
//! between that it had not yet reached. A date written once holds for the whole run and any
//! resume. (`now()` is also missing from the function list of CQL's reference, which names
//! `startOfDay()`, `endOfDay()` and the like, so Data Center's support of it is unsure.)

use connector_core::window::{CoarseWindow, Precision, Zone};
use connector_core::{ErrorKind, Result, TimeWindow};

use super::SOURCE;
use super::client::{Client, soft};
use super::model::{CurrentUser, SystemInfo};

impl Client {
    /// The zones CQL may read dates in: the API user's (`timezone_offset`, else
    /// `/rest/api/user/current`) and, on Cloud, the site's default
    /// (`/rest/api/settings/systemInfo`); a zone that cannot be learnt is
    /// [`Zone::unknown`].
    ///
    /// # Errors
    /// A lookup's error that affects every request (an unreachable site, wrong credentials
    /// for the user lookup).
    pub(crate) async fn cql_zones(&self, timezone_offset: Option<f64>) -> Result<Vec<Zone>> {
        let user = match timezone_offset {
            // Validated to lie within ±14 h.
            Some(hours) => Zone::from_offset_hours(hours).unwrap_or(Zone::unknown()),
            None => read_zone(self.user_time_zone().await?, "the API user's"),
        };
        let mut zones = vec![user];
        if self.is_cloud() {
            zones.push(read_zone(
                self.site_time_zone().await?,
                "the site's default",
            ));
        }
        Ok(zones)
    }

    /// The API user's time zone (`/rest/api/user/current`), if it is reported.
    async fn user_time_zone(&self) -> Result<Option<String>> {
        let url = self.api_url("/rest/api/user/current").await?;
        match self.get_json::<CurrentUser>(url).await {
            Ok(user) => Ok(user.time_zone),
            Err(e) if soft(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The Cloud site's default time zone (`/rest/api/settings/systemInfo`), if it can be
    /// read. A 401 counts as unknown too: a scoped token without the scope for it is still
    /// good for the searches (and wrong credentials fail the search itself).
    async fn site_time_zone(&self) -> Result<Option<String>> {
        let url = self.api_url("/rest/api/settings/systemInfo").await?;
        match self.get_json::<SystemInfo>(url).await {
            Ok(info) => Ok(info.default_time_zone),
            Err(e) if soft(&e) || e.kind() == ErrorKind::Unauthenticated => {
                tracing::warn!(connector = SOURCE, error = %e, "the site's default time zone cannot be read; incremental searches start 14 hours early");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// The zone named `name` (`what`: whose), or unknown when it is missing or not a zone.
fn read_zone(name: Option<String>, what: &str) -> Zone {
    let Some(name) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        tracing::debug!(
            connector = SOURCE,
            "{what} time zone is not reported; incremental searches start 14 hours early"
        );
        return Zone::unknown();
    };
    Zone::named(&name).unwrap_or_else(|| {
        tracing::debug!(connector = SOURCE, zone = %name, "{what} time zone is unknown here; incremental searches start 14 hours early");
        Zone::unknown()
    })
}

/// The start of `window` as CQL text (`yyyy-MM-dd HH:mm`) that no zone of `zones` reads as
/// later than the start: the earliest of the bounds written in each (the most western
/// zone's), a minute early; 14 hours early when any zone is unknown (or none is given).
pub(crate) fn lower_bound(window: TimeWindow, zones: &[Zone]) -> String {
    let bound = |zone: Zone| CoarseWindow::new(window, zone, Precision::Minute).lower_bound();
    if zones.is_empty() || zones.iter().any(Zone::is_unknown) {
        return bound(Zone::unknown());
    }
    // Fixed-width `yyyy-MM-dd HH:mm`: text order is time order.
    zones
        .iter()
        .map(|z| bound(*z))
        .min()
        .unwrap_or_else(|| bound(Zone::unknown()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_is_written_in_the_most_western_zone() {
        let (Ok(start), Ok(end)) = (
            "2026-03-02T10:00:30Z".parse(),
            "2026-03-02T11:00:00Z".parse(),
        ) else {
            panic!("dates")
        };
        let w = TimeWindow { start, end };
        let (Some(berlin), Some(la)) = (
            Zone::named("Europe/Berlin"),
            Zone::named("America/Los_Angeles"),
        ) else {
            panic!("zones")
        };
        // 10:00 UTC is 11:00 in Berlin and 02:00 in Los Angeles (PST): the earlier text.
        assert_eq!(lower_bound(w, &[berlin]), "2026-03-02 10:59");
        assert_eq!(lower_bound(w, &[berlin, la]), "2026-03-02 01:59");
        assert_eq!(lower_bound(w, &[la, berlin]), "2026-03-02 01:59");
        // Unknown anywhere: 14 hours early.
        assert_eq!(
            lower_bound(w, &[berlin, Zone::unknown()]),
            "2026-03-01 19:59"
        );
        assert_eq!(lower_bound(w, &[]), "2026-03-01 19:59");
    }
}
