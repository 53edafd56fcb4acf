//! Metadata keys cost no allocation: a static key is held inline, and a key shared by every
//! document of a source (a table's column name, even one longer than a key holds inline) is a
//! clone of one `MetaKey`, not a new string per document.
//!
//! A counting global allocator measures the bytes a document's metadata holds against a map of
//! the same values under keys made with `MetaKey::new_inline` (which never allocates): equal
//! means no key took a byte of heap. This file holds one test so that nothing else allocates
//! in the process meanwhile.

use connector_core::rows::{Key, Row, RowLayout, Value};
use connector_core::{Document, MetaKey, Metadata};
use peak_alloc::PeakAlloc;
use serde_json::json;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// The bytes `f`'s result holds on the heap (what it allocated and did not free).
fn held<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOC.current_usage();
    let out = f();
    (ALLOC.current_usage().saturating_sub(before), out)
}

/// The bytes a map of `values` holds when no key allocates.
fn map_of(values: &[serde_json::Value]) -> usize {
    const KEYS: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
    let (bytes, map) = held(|| {
        let mut map = Metadata::new();
        for (key, value) in KEYS.iter().zip(values) {
            map.insert(MetaKey::new_inline(key), value.clone());
        }
        map
    });
    assert_eq!(map.len(), values.len());
    bytes
}

#[test]
fn metadata_keys_do_not_allocate() {
    // `with_metadata`: static keys, a long static one, and keys made once per source as a
    // connector does with its field names, one short and one long. The values do not allocate.
    let shared = [
        MetaKey::from("Customer Name"),
        MetaKey::from(format!("{}_field", "a_long_custom_object")),
    ];
    assert!(shared[1].len() > 23, "the long key is not held inline");
    let values = [
        json!(1),
        json!(true),
        json!(7),
        json!(false),
        json!(2),
        json!(3),
        json!(4),
    ];
    let doc = Document::text("rec1", "demo", "Title", "body");
    let (bytes, doc) = held(|| {
        doc.with_metadata("space", values[0].clone())
            .with_metadata("labels", values[1].clone())
            .with_metadata("record_id", values[2].clone())
            .with_metadata("object", values[3].clone())
            .with_metadata(
                MetaKey::new_static("a_static_key_longer_than_23_bytes"),
                values[4].clone(),
            )
            .with_metadata(shared[0].clone(), values[5].clone())
            .with_metadata(shared[1].clone(), values[6].clone())
    });
    assert_eq!(doc.metadata.len(), 7);
    assert_eq!(doc.metadata.get("space"), Some(&json!(1)));
    assert_eq!(doc.metadata.get("Customer Name"), Some(&json!(3)));
    assert_eq!(bytes, map_of(&values), "heap held by 7 metadata fields");

    // A row's metadata columns: every document clones the layout's keys, one of them longer
    // than a key holds inline, rather than copying the column names.
    let names = [
        "id",
        "amount",
        "quantity",
        "a_column_name_longer_than_23",
        "done",
    ];
    let mut layout = RowLayout::new("test", names.iter().map(|n| n.to_string()).collect());
    layout.content = vec![0];
    layout.metadata = vec![1, 2, 3, 4];
    let row: Row = vec![
        Ok(Value::Int(1)),
        Ok(Value::Int(250)),
        Ok(Value::UInt(3)),
        Ok(Value::Float(0.5)),
        Ok(Value::Bool(true)),
    ];
    let render = |layout: &RowLayout| {
        layout
            .render(&row, "test:1", &Key::Int(1), None)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    // What the first render keeps for the next (the hasher's buffer) is kept now.
    drop(render(&layout));
    let (with, doc) = held(|| render(&layout));
    assert_eq!(
        doc.metadata.get("a_column_name_longer_than_23"),
        Some(&json!(0.5))
    );
    let values: Vec<_> = doc.metadata.values().cloned().collect();
    layout.metadata.clear();
    let (without, _) = held(|| render(&layout));
    // The map's own, and the JSON of it the fields fingerprint wrote and the map keeps for
    // the NDJSON line (exactly its bytes).
    let json = serde_json::to_vec(&doc.metadata).map_or(0, |json| json.len());
    assert_eq!(
        with - without,
        map_of(&values) + json,
        "heap held by 4 metadata columns"
    );
}
