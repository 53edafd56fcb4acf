//! One [`Document`] as one NDJSON line, written straight from the document.
//!
//! The bytes are exactly what `serde_json::to_writer(&mut out, doc)` writes (the derived
//! `Serialize` of [`Document`]: the same fields in the same order, the same escapes, the same
//! number formatting, which is serde_json's own), but the strings are escaped eight bytes at a
//! time, where serde_json looks each byte up in a table, and the fields are written without
//! the `Serializer` state machine. Strings are most of a line (id, title, the body, the
//! fingerprint), so the escape loop is most of the work. A spooled body, whose base64 is
//! streamed from its file, goes through serde_json.

use crate::document::{Content, Document};
use crate::jsonw::{write_map, write_str, write_u64};

/// Appends `doc`'s JSON (no newline) to `out`.
pub(super) fn write_document(out: &mut Vec<u8>, doc: &Document) -> serde_json::Result<()> {
    if doc.content.is_spooled() {
        return serde_json::to_writer(out, doc);
    }
    out.extend_from_slice(b"{\"id\":");
    write_str(out, &doc.id);
    out.extend_from_slice(b",\"source\":");
    write_str(out, &doc.source);
    out.extend_from_slice(b",\"title\":");
    write_str(out, &doc.title);
    if let Some(link) = &doc.link {
        out.extend_from_slice(b",\"link\":");
        write_str(out, link.as_str());
    }
    out.extend_from_slice(b",\"content\":");
    match &doc.content {
        Content::Text { text } => {
            out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
            write_str(out, text);
            out.push(b'}');
        }
        // Bytes and anything added later: as serde writes them.
        content => serde_json::to_writer(&mut *out, content)?,
    }
    if let Some(at) = &doc.updated_at {
        out.extend_from_slice(b",\"updated_at\":");
        match crate::state::Rfc3339::of(at) {
            Some(text) => write_str(out, text.as_str()),
            None => write_str(
                out,
                &at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
        }
    }
    out.extend_from_slice(b",\"size_bytes\":");
    write_u64(out, doc.size_bytes);
    if !doc.metadata.is_empty() {
        out.extend_from_slice(b",\"metadata\":");
        // Kept by the fields fingerprint when it wrote the same bytes: copied, not rewritten.
        match doc.metadata.kept_json() {
            Some(json) => {
                // The cache is cleared by every `&mut` method of `Metadata` by convention;
                // debug builds check each line so a new method that forgets cannot pass.
                if cfg!(debug_assertions) {
                    let mut fresh = Vec::new();
                    write_map(&mut fresh, &doc.metadata)?;
                    assert_eq!(
                        String::from_utf8_lossy(json),
                        String::from_utf8_lossy(&fresh),
                        "the kept metadata JSON is stale"
                    );
                }
                out.extend_from_slice(json);
            }
            None => write_map(out, &doc.metadata)?,
        }
    }
    if !doc.owners.is_empty() {
        out.extend_from_slice(b",\"owners\":[");
        for (i, owner) in doc.owners.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, owner);
        }
        out.push(b']');
    }
    if let Some(access) = &doc.access {
        out.extend_from_slice(b",\"access\":");
        serde_json::to_writer(&mut *out, access)?;
    }
    if let Some(parent) = &doc.parent_id {
        out.extend_from_slice(b",\"parent_id\":");
        write_str(out, parent);
    }
    out.extend_from_slice(b",\"fingerprint\":");
    write_str(out, &doc.fingerprint);
    out.push(b'}');
    Ok(())
}

/// What the derive writes for a map of metadata, for the tests.
#[cfg(test)]
fn serde_line(doc: &Document) -> Vec<u8> {
    serde_json::to_vec(doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Access;
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn ours(doc: &Document) -> Vec<u8> {
        let mut out = Vec::new();
        write_document(&mut out, doc).unwrap_or_default();
        out
    }

    fn same(doc: &Document) {
        let (a, b) = (ours(doc), serde_line(doc));
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "{doc:?}"
        );
    }

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let all: String = (0u8..0x80).map(char::from).collect();
        for s in [
            "",
            "plain",
            "exactly8",
            "\"",
            "\\",
            "a\"b\\c\nd\te\u{1}f\u{1f}g\u{7f}h",
            "ünïcödé — 中文 \u{2028}\u{2029} 😀",
            "twelve bytes\"twelve bytes\\twelve",
            &all,
            &all.repeat(3),
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap_or_default(), "{s:?}");
        }
    }

    /// The metadata JSON the fields fingerprint keeps is never written stale: a host that
    /// changes the map after fingerprinting, by any `&mut` method, gets the map's JSON.
    #[test]
    fn metadata_changed_after_fingerprinting_is_written_as_it_is() {
        let changes: [fn(&mut crate::Metadata); 9] = [
            |m| drop(m.insert("b".into(), json!(2))),
            |m| drop(m.insert("0".into(), json!(0))),
            |m| drop(m.remove("a")),
            |m| m.retain(|k, _| k != "z"),
            |m| *m.get_mut("a").unwrap_or(&mut Value::Null) = json!("changed"),
            |m| m.values_mut().for_each(|v| *v = json!([])),
            |m| m.iter_mut().for_each(|(_, v)| *v = json!(null)),
            |m| m.extend([("c".into(), json!(3))]),
            crate::Metadata::clear,
        ];
        for change in changes {
            let mut doc = Document::text("1", "src", "T", "body")
                .with_metadata("a", 1)
                .with_metadata("z", "last")
                .with_fields_fingerprint();
            assert!(doc.metadata.kept_json().is_some());
            same(&doc);
            change(&mut doc.metadata);
            same(&doc);
            // A clone and a replaced map are written as they are too.
            same(&doc.clone());
            doc.metadata = [("n".into(), json!(1))].into();
            same(&doc);
        }
    }

    #[test]
    fn a_full_document_is_the_derived_line() {
        let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 123_000_000).unwrap_or_default();
        let doc = Document::text("id-1", "rest_api", "A \"title\"", "Body\n\nwith *mark*")
            .with_link("https://example.com/a?b=c&d=\"e\"".parse().unwrap())
            .with_updated_at(at)
            .with_size(77)
            .with_metadata("author", "Alice")
            .with_metadata("n", -3)
            .with_metadata("f", 1.5)
            .with_metadata("big", u64::MAX)
            .with_metadata("tags", json!(["a", null, true, {"z": 1, "a": [2.25e300]}]))
            .with_owners(vec!["a@example.com".into(), "b\u{1}".into()])
            .with_access(Access::restricted(vec!["x@y.z".into()], vec!["g".into()]))
            .with_parent_id("parent")
            .with_fields_fingerprint();
        same(&doc);
        same(&Document::text("", "s", "", ""));
        let mut old = Document::text("y", "s", "t", "x");
        old.updated_at = DateTime::<Utc>::MIN_UTC.into();
        same(&old);
    }

    #[test]
    fn a_bytes_document_is_the_derived_line() {
        same(&Document::bytes(
            "b",
            "local",
            "b.bin",
            vec![0u8, 1, 2, 255],
            "application/pdf",
            Some("pdf".into()),
        ));
        same(
            &Document::bytes("b", "local", "b.bin", Vec::new(), "x", None)
                .with_access(Access::public()),
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,20}|[\\x00-\\x7f]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\\\ ]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_document_is_the_derived_line(
            id in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
            title in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
            text in "\\PC{0,200}|[\\x00-\\x7f]{0,200}",
            metadata in prop::collection::btree_map("\\PC{0,8}", json_value(), 0..5),
            owners in prop::collection::vec("\\PC{0,10}", 0..3),
            parent in proptest::option::of("\\PC{0,10}"),
            secs in proptest::option::of(-62_135_596_800i64..253_402_300_799i64),
            nanos in 0u32..1_000_000_000,
            size in any::<u64>(),
        ) {
            let mut doc = Document::text(id, "src", title, text).with_size(size);
            doc.metadata = metadata.into_iter().map(|(k, v)| (k.into(), v)).collect();
            doc.owners = owners;
            doc.parent_id = parent;
            doc.updated_at = secs.and_then(|s| DateTime::<Utc>::from_timestamp(s, nanos));
            let doc = doc.with_fields_fingerprint();
            prop_assert_eq!(ours(&doc), serde_line(&doc));
        }
    }
}
