//! The slow path of raw pages (an item that cannot be read fails alone) against oracles built
//! independently of it: [`item_spans`](crate::rest_api::syntax::item_spans) against a split
//! done by serde_json alone, and a raw page's batch against each of its items converted alone.

use super::*;
use crate::rest_api::json_gen::nested;

/// The items' spans found with serde_json alone: each value's end is where a
/// `StreamDeserializer<IgnoredAny>` (which accepts `1e400`, lone surrogates, bytes that
/// are not UTF-8, any depth) stops; only `,` `:` and brackets are read by hand.
fn stream_spans(body: &[u8], path: &[String]) -> Option<Vec<std::ops::Range<usize>>> {
    let ws = |mut i: usize| {
        while body
            .get(i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            i += 1;
        }
        i
    };
    let end_of = |i: usize| -> Option<usize> {
        let mut s = serde_json::Deserializer::from_slice(body.get(i..)?)
            .into_iter::<serde::de::IgnoredAny>();
        s.next()?.ok()?;
        Some(i + s.byte_offset())
    };
    let mut i = ws(0);
    for name in path {
        if body.get(i) != Some(&b'{') {
            return None;
        }
        i = ws(i + 1);
        let mut found = None;
        while body.get(i) != Some(&b'}') {
            let mut s = serde_json::Deserializer::from_slice(body.get(i..)?).into_iter::<String>();
            let key = s.next()?.ok()?;
            i = ws(i + s.byte_offset());
            if body.get(i) != Some(&b':') {
                return None;
            }
            i = ws(i + 1);
            let end = end_of(i)?;
            if key == *name {
                if found.is_some() {
                    return None;
                }
                found = Some(i);
            }
            i = ws(end);
            if body.get(i) == Some(&b',') {
                i = ws(i + 1);
            }
        }
        i = found?;
    }
    if body.get(i) != Some(&b'[') {
        return None;
    }
    let mut spans = Vec::new();
    i = ws(i + 1);
    while body.get(i) != Some(&b']') {
        let end = end_of(i)?;
        spans.push(i..end);
        i = ws(end);
        if body.get(i) == Some(&b',') {
            i = ws(i + 1);
        }
    }
    Some(spans)
}

/// The entry index a failure names ("entry N of the page ...").
fn entry_of(message: &str) -> usize {
    let rest = message.split("entry ").nth(1).expect("names an entry");
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// For a trees mapping (no plan), the raw page's batch is what converting each item
/// alone as a `Value` gives: the same documents in the same order, and a failure at the
/// same entries (an item no `Value` holds fails). Also: `item_spans` finds the same spans
/// as the serde_json-only split.
fn per_item_oracle(body: &[u8]) {
    let path = ["data".to_owned()];
    let Some((_, n)) = locate(body, &path, None) else {
        return;
    };
    let spans = crate::rest_api::syntax::item_spans(body, &path);
    let oracle = stream_spans(body, &path);
    assert_eq!(spans, oracle, "{}", String::from_utf8_lossy(body));
    let spans = spans.expect("split");
    assert_eq!(spans.len(), n);
    let raw = PageItems::Raw {
        body: Bytes::copy_from_slice(body),
        path: path.clone().into(),
        len: n,
    };
    for m in mappings().iter().filter(|m| m.direct().is_none()) {
        let got = convert_page(m, &raw, &AT, None);
        let mut docs = Vec::new();
        let mut fails = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            match serde_json::from_slice::<Value>(&body[span.clone()]) {
                Ok(v) => {
                    if let Err(f) = m.convert_into(
                        &v,
                        &Entry {
                            page: &AT,
                            index: i,
                        },
                        &mut docs,
                    ) {
                        fails.push((f.id.clone(), i));
                    }
                }
                Err(_) => fails.push((None, i)),
            }
        }
        assert_eq!(got.documents, docs, "{}", String::from_utf8_lossy(body));
        let got_fails: Vec<(Option<String>, usize)> = got
            .failures
            .iter()
            .map(|f| (f.id.clone(), entry_of(&f.to_string())))
            .collect();
        assert_eq!(got_fails, fails, "{}", String::from_utf8_lossy(body));
    }
    // With a plan: each item as a page of its own, kept (the fetch's reader) where the
    // plan reads it, else as a `Value` where one holds it, else a failure.
    for m in mappings().iter().filter(|m| m.direct().is_some()) {
        let got = convert_page(m, &raw, &AT, None);
        let mut docs = Vec::new();
        let mut fails = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            let one = [b"{\"data\":[".as_slice(), &body[span.clone()], b"]}"].concat();
            let batch = match keep(&one, &path, m.direct().unwrap()) {
                Some((_, kept)) => convert_page(
                    m,
                    &PageItems::Kept {
                        body: Bytes::from(one.clone()),
                        kept,
                    },
                    &AT,
                    None,
                ),
                None => match serde_json::from_slice::<Value>(&body[span.clone()]) {
                    Ok(v) => convert_page(m, &PageItems::Values(vec![v]), &AT, None),
                    Err(_) => {
                        fails.push(i);
                        continue;
                    }
                },
            };
            docs.extend(batch.documents);
            fails.extend(batch.failures.iter().map(|_| i));
        }
        assert_eq!(got.documents, docs, "{}", String::from_utf8_lossy(body));
        let got_fails: Vec<usize> = got
            .failures
            .iter()
            .map(|f| entry_of(&f.to_string()))
            .collect();
        assert_eq!(got_fails, fails, "{}", String::from_utf8_lossy(body));
    }
}

/// `raw_value`'s tokens with whitespace of every JSON kind around the structure.
fn raw_value_ws() -> impl Strategy<Value = String> {
    let ws = || prop::sample::select(vec!["", " ", "\n", "\t", "\r\n  ", " \t"]);
    let key = prop::sample::select(vec![
        "\"id\"",
        "\"\\u0069d\"",
        "\"title\"",
        "\"body\"",
        "\"a\"",
        "\"b\"",
        "\"q\\\"\"",
        "\"\\\\\"",
        "\"]\"",
        "\"}\"",
        "\"data\"",
    ]);
    let leaf = prop::sample::select(vec![
        "null",
        "true",
        "false",
        "-0.0",
        "1E+2",
        "-1e-400",
        "1e400",
        "18446744073709551616",
        "\"\"",
        "\"\\\\\"",
        "\"\\\\\\\"\"",
        "\"\\\"]}\"",
        "\"[{\"",
        "\"\\ud800\"",
        "\"x\\udc00\"",
        "\"\\ud83d\\ude00\"",
        "\"é\"",
        "\"\\u0022\"",
        "\"a,b:c\"",
    ])
    .prop_map(str::to_owned);
    nested(
        leaf.boxed(),
        key.prop_map(str::to_owned).boxed(),
        move || ws().prop_map(str::to_owned).boxed(),
        (5, 40, 6, 5),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn raw_pages_convert_as_each_item_alone(
        items in prop::collection::vec((raw_value_ws(), prop::sample::select(vec!["", " ", "\n\t"])), 0..6)
    ) {
        let items: Vec<String> = items.into_iter().map(|(x, w)| format!("{w}{x}{w}")).collect();
        let body = format!(" {{ \"m\" : [\"]\"] , \"data\"\n:\r[{}] ,\"z\":{{\"data\":1}} }}\n", items.join(","));
        per_item_oracle(body.as_bytes());
    }
}
