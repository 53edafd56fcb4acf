//! Reads whose requests the source adjusts (a `Prefer` header: Outlook's immutable ids), the
//! same as [`GraphClient::get`] and [`GraphClient::all`] otherwise.

use std::collections::HashSet;

use connector_core::http::RequestBuilder;
use connector_core::{Error, ErrorKind, Result};
use serde::de::DeserializeOwned;
use url::Url;

use super::{GraphClient, Page};

impl GraphClient {
    /// `GET url` as `T`, the request adjusted by `build`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T> {
        self.send(url, build).await?.json()
    }

    /// [`all`](Self::all) with each page's request adjusted by `build`.
    ///
    /// # Errors
    /// As [`all`](Self::all).
    pub async fn all_with<T: DeserializeOwned>(
        &self,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut next = Some(url.clone());
        let mut seen = HashSet::new();
        while let Some(url) = next.take() {
            if !seen.insert(url.to_string()) {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "Graph sent the same @odata.nextLink twice; the listing stopped there",
                )
                .with_connector(self.source));
            }
            let page: Page<T> = self.get_with(&url, &build).await?;
            out.extend(page.value);
            next = page.next_link;
        }
        Ok(out)
    }
}
