//! JSON texts for property tests: lists and objects of generated leaves, nested, with the
//! given whitespace around every token. The tests that hold hand-written scans of JSON text
//! (`syntax`, the pages' each-item-alone test) choose their own leaves, keys and whitespace.

use proptest::prelude::*;

/// Lists (up to 3 entries) and objects (up to `members - 1` members) of `leaf`, nested up to
/// `depth` levels (`size` and `width` as [`Strategy::prop_recursive`] takes them), with
/// `ws` around each entry, key and value.
pub(crate) fn nested(
    leaf: BoxedStrategy<String>,
    key: BoxedStrategy<String>,
    ws: impl Fn() -> BoxedStrategy<String> + Clone + 'static,
    (depth, size, width, members): (u32, u32, u32, usize),
) -> impl Strategy<Value = String> {
    leaf.prop_recursive(depth, size, width, move |inner| {
        let ws = ws.clone();
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..4).prop_map(|v| {
                let e: Vec<String> = v
                    .into_iter()
                    .map(|(a, x, b)| format!("{a}{x}{b}"))
                    .collect();
                format!("[{}]", e.join(","))
            }),
            prop::collection::vec((ws(), key.clone(), ws(), ws(), inner, ws()), 0..members)
                .prop_map(|v| {
                    let e: Vec<String> = v
                        .into_iter()
                        .map(|(a, k, b, c, x, d)| format!("{a}{k}{b}:{c}{x}{d}"))
                        .collect();
                    format!("{{{}}}", e.join(","))
                }),
        ]
    })
}
