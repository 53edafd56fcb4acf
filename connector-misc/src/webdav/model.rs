//! The PROPFIND answer: a `207 Multi-Status` body (RFC 4918 §14.16) read with quick-xml, and
//! what the walk hands on.

use chrono::{DateTime, Utc};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// ownCloud's property namespace, which Nextcloud keeps.
const OC_NS: &str = "http://owncloud.org/ns";

/// The PROPFIND body the connector sends: only the properties it uses, so servers do not
/// compute quotas or lock discovery for every file. The `oc:` ones (owner, file id,
/// permissions) are Nextcloud's and ownCloud's; other servers answer them in a `404`
/// propstat, which is ignored.
pub(crate) const PROPFIND_BODY: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns"><D:prop>"#,
    "<D:resourcetype/><D:getetag/><D:getlastmodified/><D:getcontentlength/><D:getcontenttype/>",
    "<oc:fileid/><oc:owner-id/><oc:owner-display-name/><oc:permissions/>",
    "</D:prop></D:propfind>"
);

/// One `<D:response>` of a multistatus body, with the properties of its `2xx` propstats
/// (a property the server does not have comes back empty under `404`, and is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resource {
    /// The `<D:href>` as sent (XML-unescaped, still percent-encoded): an absolute URL or an
    /// absolute path.
    pub(crate) href: String,
    /// `<D:resourcetype><D:collection/></D:resourcetype>`.
    pub(crate) collection: bool,
    /// `getetag`, as sent (quoted or not, weak or not).
    pub(crate) etag: Option<String>,
    /// `getlastmodified`, as sent.
    pub(crate) last_modified: Option<String>,
    /// `getcontentlength`.
    pub(crate) length: Option<u64>,
    /// `getcontenttype`.
    pub(crate) content_type: Option<String>,
    /// `oc:fileid` (Nextcloud, ownCloud): the id of the web UI's `/index.php/f/{fileid}`.
    pub(crate) file_id: Option<String>,
    /// `oc:owner-id` (Nextcloud, ownCloud): the owner's user id.
    pub(crate) owner_id: Option<String>,
    /// `oc:owner-display-name`.
    pub(crate) owner_name: Option<String>,
    /// `oc:permissions` (`RGDNVW`...): what the login may do with it.
    pub(crate) permissions: Option<String>,
    /// The response's own `<D:status>` when it is not a success (a member the server could
    /// not describe): the status line.
    pub(crate) error: Option<String>,
}

impl Resource {
    /// `getlastmodified` as a time: RFC 1123 (`Fri, 04 Dec 2026 12:36:53 GMT`, what RFC 4918
    /// prescribes), or RFC 3339 / RFC 2822 as some servers send it.
    pub(crate) fn modified(&self) -> Option<DateTime<Utc>> {
        let raw = self.last_modified.as_deref()?.trim();
        if let Ok(t) = httpdate::parse_http_date(raw) {
            return Some(DateTime::<Utc>::from(t));
        }
        DateTime::parse_from_rfc3339(raw)
            .or_else(|_| DateTime::parse_from_rfc2822(raw))
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The version token the fingerprint is made of: the ETag, else `{length}:{last modified}`
    /// (nginx lists no ETags); none without either (the file is then always read).
    pub(crate) fn version(&self) -> Option<String> {
        if let Some(etag) = self.etag.as_deref().filter(|e| !e.is_empty()) {
            return Some(format!("etag:{etag}"));
        }
        match (self.length, self.last_modified.as_deref()) {
            (Some(len), Some(at)) => Some(format!("{len}:{at}")),
            _ => None,
        }
    }
}

/// Which DAV element text is being read into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Href,
    Etag,
    LastModified,
    Length,
    ContentType,
    FileId,
    OwnerId,
    OwnerName,
    Permissions,
    PropstatStatus,
    ResponseStatus,
}

/// Reads a multistatus body.
///
/// # Errors
/// What is wrong with the XML (not well-formed, an unknown namespace prefix, no
/// `multistatus` root), for the listing's error.
pub(crate) fn parse_multistatus(xml: &str) -> Result<Vec<Resource>, String> {
    let mut reader = NsReader::from_str(xml);
    let mut out = Vec::new();
    // The DAV elements open around the current event (other namespaces are kept as `None`, so
    // a server's own properties cannot be mistaken for DAV ones).
    let mut open: Vec<Option<String>> = Vec::new();
    let mut seen_root = false;
    let mut response: Option<Resource> = None;
    let mut propstat: Option<(Resource, Option<u16>)> = None;
    let mut field: Option<Field> = None;
    let mut text = String::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("the multistatus body is not well-formed XML: {e}"))?;
        // DAV names bare, ownCloud's with `oc:`; other namespaces as `None`.
        let named = |ns: &ResolveResult<'_>, local: &str| match ns {
            ResolveResult::Bound(n) if n.as_ref() == "DAV:" => Some(local.to_owned()),
            ResolveResult::Bound(n) if n.as_ref() == OC_NS => Some(format!("oc:{local}")),
            // Servers that forget the namespace: their bare names are taken as DAV's.
            ResolveResult::Unbound => Some(local.to_owned()),
            _ => None,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = named(&ns, e.local_name().as_ref());
                let parent = open.last().cloned().flatten();
                match (name.as_deref(), parent.as_deref()) {
                    (Some("multistatus"), None) if open.is_empty() => seen_root = true,
                    (Some("response"), Some("multistatus")) => {
                        response = Some(Resource::default());
                    }
                    (Some("propstat"), Some("response")) => {
                        propstat = Some((Resource::default(), None));
                    }
                    (Some("collection"), Some("resourcetype")) => {
                        if let Some((props, _)) = propstat.as_mut() {
                            props.collection = true;
                        }
                    }
                    (Some(n), Some(p)) => {
                        field = match (n, p) {
                            ("href", "response") => Some(Field::Href),
                            ("status", "propstat") => Some(Field::PropstatStatus),
                            ("status", "response") => Some(Field::ResponseStatus),
                            ("getetag", "prop") => Some(Field::Etag),
                            ("getlastmodified", "prop") => Some(Field::LastModified),
                            ("getcontentlength", "prop") => Some(Field::Length),
                            ("getcontenttype", "prop") => Some(Field::ContentType),
                            ("oc:fileid", "prop") => Some(Field::FileId),
                            ("oc:owner-id", "prop") => Some(Field::OwnerId),
                            ("oc:owner-display-name", "prop") => Some(Field::OwnerName),
                            ("oc:permissions", "prop") => Some(Field::Permissions),
                            _ => None,
                        };
                        text.clear();
                    }
                    _ => {}
                }
                if !seen_root {
                    return Err("the body is not a DAV:multistatus".to_owned());
                }
                if empty {
                    // `<D:getetag/>`: no value; nothing more to do.
                    field = None;
                } else {
                    open.push(name);
                }
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if field.is_some() => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_owned),
                };
                match resolved {
                    Some(s) => text.push_str(&s),
                    None => {
                        return Err(format!(
                            "the multistatus body uses an unknown entity `&{};`",
                            r.xml10_content()
                        ));
                    }
                }
            }
            Event::End(_) => {
                let name = open.pop().flatten();
                if let Some(f) = field.take() {
                    let value = std::mem::take(&mut text).trim().to_owned();
                    store(f, value, response.as_mut(), propstat.as_mut());
                }
                match name.as_deref() {
                    Some("propstat") => {
                        if let (Some((props, status)), Some(resp)) =
                            (propstat.take(), response.as_mut())
                        {
                            // A propstat without a status is taken as a success.
                            if status.is_none_or(|s| (200..300).contains(&s)) {
                                merge(resp, props);
                            }
                        }
                    }
                    Some("response")
                        if open.last().cloned().flatten().as_deref() == Some("multistatus") =>
                    {
                        if let Some(resp) = response.take() {
                            out.push(resp);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err("the multistatus body ends before its elements are closed".to_owned());
    }
    if !seen_root {
        return Err("the body is not a DAV:multistatus".to_owned());
    }
    Ok(out)
}

/// The status code of a status line (`HTTP/1.1 404 Not Found`).
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

fn store(
    field: Field,
    value: String,
    response: Option<&mut Resource>,
    propstat: Option<&mut (Resource, Option<u16>)>,
) {
    let non_empty = (!value.is_empty()).then_some(value);
    match field {
        Field::Href => {
            if let (Some(r), Some(v)) = (response, non_empty) {
                r.href = v;
            }
        }
        Field::ResponseStatus => {
            if let (Some(r), Some(v)) = (response, non_empty)
                && !status_code(&v).is_some_and(|s| (200..300).contains(&s))
            {
                r.error = Some(v);
            }
        }
        Field::PropstatStatus => {
            if let Some((_, status)) = propstat {
                *status = non_empty.as_deref().and_then(status_code).or(Some(0));
            }
        }
        _ => {
            let Some((props, _)) = propstat else {
                return;
            };
            match field {
                Field::Etag => props.etag = non_empty,
                Field::LastModified => props.last_modified = non_empty,
                Field::Length => props.length = non_empty.and_then(|v| v.parse().ok()),
                Field::ContentType => props.content_type = non_empty,
                Field::FileId => props.file_id = non_empty,
                Field::OwnerId => props.owner_id = non_empty,
                Field::OwnerName => props.owner_name = non_empty,
                _ => props.permissions = non_empty,
            }
        }
    }
}

fn merge(into: &mut Resource, props: Resource) {
    into.collection |= props.collection;
    into.etag = into.etag.take().or(props.etag);
    into.last_modified = into.last_modified.take().or(props.last_modified);
    into.length = into.length.or(props.length);
    into.content_type = into.content_type.take().or(props.content_type);
    into.file_id = into.file_id.take().or(props.file_id);
    into.owner_id = into.owner_id.take().or(props.owner_id);
    into.owner_name = into.owner_name.take().or(props.owner_name);
    into.permissions = into.permissions.take().or(props.permissions);
}

/// One member of a listed folder, by the path relative to the configured folder.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The path relative to the configured folder, `/` between names, names decoded (a name
    /// that is not UTF-8 once decoded has U+FFFD in its place).
    pub(crate) rel: String,
    /// Its URL: the folder's URL and the name as the server wrote it.
    pub(crate) url: url::Url,
    /// What the server listed.
    pub(crate) resource: Resource,
}

/// Something of a listing that cannot become a document: a member the server answered with an
/// error status, a name no path can carry.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    /// The member's path as far as known.
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) message: String,
    /// Whether files may be missing from the listing because of it: an id listing for prune
    /// must then fail rather than come back short.
    pub(crate) hides_files: bool,
}

/// One item of the walk, in walk order.
#[derive(Debug, Clone)]
pub(crate) enum Listed {
    File(Box<Member>),
    Problem(Problem),
}

/// A page of the walk: up to `page_size` items.
pub(crate) type Page = Vec<Listed>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4918_example() {
        // RFC 4918 §9.1.3, trimmed: a `D:` prefix, a property of another namespace, a 404
        // propstat whose empty properties must not count.
        let xml = r#"<?xml version="1.0" encoding="utf-8" ?>
     <multistatus xmlns="DAV:">
       <response>
         <href>http://www.example.com/container/</href>
         <propstat>
           <prop xmlns:R="http://ns.example.com/boxschema/">
             <R:bigbox/>
             <resourcetype><collection/></resourcetype>
           </prop>
           <status>HTTP/1.1 200 OK</status>
         </propstat>
       </response>
       <response>
         <href>http://www.example.com/container/front.html</href>
         <propstat>
           <prop>
             <getcontentlength>4525</getcontentlength>
             <getetag>"zzyzx"</getetag>
             <getlastmodified>Monday, 12-Jan-98 09:25:56 GMT</getlastmodified>
             <resourcetype/>
           </prop>
           <status>HTTP/1.1 200 OK</status>
         </propstat>
         <propstat>
           <prop><getcontenttype/></prop>
           <status>HTTP/1.1 404 Not Found</status>
         </propstat>
       </response>
     </multistatus>"#;
        let got = parse_multistatus(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 2);
        assert!(got[0].collection);
        assert_eq!(got[1].href, "http://www.example.com/container/front.html");
        assert!(!got[1].collection);
        assert_eq!(got[1].length, Some(4525));
        assert_eq!(got[1].etag.as_deref(), Some("\"zzyzx\""));
        assert_eq!(got[1].content_type, None);
        assert_eq!(
            got[1].modified().map(|t| t.to_rfc3339()).as_deref(),
            Some("1998-01-12T09:25:56+00:00")
        );
    }

    #[test]
    fn entities_and_member_errors() {
        let xml = r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a/b&amp;c&#x20;d.txt</D:href>
            <D:propstat><D:prop><D:getcontentlength>3</D:getcontentlength></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
            <D:response><D:href>/a/secret/</D:href><D:status>HTTP/1.1 403 Forbidden</D:status></D:response>
            </D:multistatus>"#;
        let got = parse_multistatus(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got[0].href, "/a/b&c d.txt");
        assert_eq!(got[1].error.as_deref(), Some("HTTP/1.1 403 Forbidden"));
    }

    #[test]
    fn not_multistatus() {
        assert!(parse_multistatus("<html><body>hi</body></html>").is_err());
        assert!(parse_multistatus("<D:multistatus xmlns:D=\"DAV:\"><D:response>").is_err());
    }
}
