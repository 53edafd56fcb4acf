//! Planned pages (a cursor or link walk's, whose mapping has a plan): the fetch only skips
//! their items, and conversion and prune read them as they read the page the fetch kept
//! before (the items kept by the plan in the fetch's pass, else a raw page).

use super::*;
use crate::rest_api::direct::Plan;
use wiremock::matchers::{method, path as at_path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The page as the fetch made it before planned pages: kept by the plan where every item
/// reads by it and the kept values stay within the budget, else raw.
fn kept_or_raw(body: &[u8], path: &[String], n: usize, plan: &Plan) -> PageItems {
    match keep(body, path, plan) {
        Some((_, kept)) => PageItems::Kept {
            body: Bytes::copy_from_slice(body),
            kept,
        },
        None => PageItems::Raw {
            body: Bytes::copy_from_slice(body),
            path: path.to_vec().into(),
            len: n,
        },
    }
}

/// A planned page converts and lists its ids as the page the fetch made before did, for
/// every mapping with a plan.
pub(super) fn planned_as_before(body: &[u8]) {
    let path = ["data".to_owned()];
    let Some((_, n)) = locate(body, &path, None) else {
        return;
    };
    let planned = PageItems::Planned {
        body: Bytes::copy_from_slice(body),
        path: path.clone().into(),
        len: n,
    };
    assert_eq!(planned.len(), n);
    let window = TimeWindow::new(
        DateTime::from_timestamp(1_000, 0).unwrap(),
        DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
    )
    .unwrap();
    for m in mappings() {
        let Some(plan) = m.direct() else { continue };
        let before = kept_or_raw(body, &path, n, plan);
        for w in [None, Some(window)] {
            assert_eq!(
                convert_page(&m, &before, &AT, w),
                convert_page(&m, &planned, &AT, w),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            page_ids(&m, &before, &AT).map_err(|e| e.to_string()),
            page_ids(&m, &planned, &AT).map_err(|e| e.to_string()),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

/// The pages the fetch did not keep (not UTF-8, an item the plan cannot read, more kept
/// than the budget allows), values outside the mapped paths no tree holds, items that are
/// not objects, an item without an id: as before, conversion's failures and prune's
/// listing included.
#[test]
fn planned_pages_convert_and_list_as_the_fetch_kept_them() {
    let tiny = format!(r#"{{"data":[{}]}}"#, vec![r#"{"id":1}"#; 50_000].join(","));
    let deep = format!(
        r#"{{"data":[{{"id":1,"tags":{}1{}}},{{"id":2}}]}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    for body in [
        &br#"{"data": [{"id": 1, "title": "t", "x": 1e400}, {"id": 2}]}"#[..],
        br#"{"data": [{"id": 1, "x": "\ud800"}, {"id": 2, "title": "\ud800"}]}"#,
        br#"{"data": [{"id": 1, "updated_at": 1e400}, {"id": 2}]}"#,
        br#"{"data": [{"id": 1, "title": "\xff"}, {"id": 2}]}"#,
        br#"{"data": [{"title": "no id"}, 3, "s", null, [1], {"id": {"a": 1}}]}"#,
        br#"{"data": [], "meta": {"next": "c"}}"#,
        br#"{"data": [{"id": 1, "title": "a\"b\u00e9", "author": {"name": "x"}, "tags": ["a", 2]}]}"#,
        tiny.as_bytes(),
        deep.as_bytes(),
    ] {
        planned_as_before(body);
    }
}

/// The fetch plans a cursor walk's pages where the mapping has a plan (its items only
/// counted), and makes raw pages of a numbered walk's and of a mapping's without one, as
/// before.
#[tokio::test]
async fn the_fetch_plans_only_a_cursor_or_link_walks_pages_with_a_plan() {
    let server = MockServer::start().await;
    let body =
        r#"{"data": [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}], "meta": {"next": "c2"}}"#;
    Mock::given(method("GET"))
        .and(at_path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let cfg = |pagination: Value, id: bool| {
        let mut c = json!({
            "url": format!("{}/items", server.uri()),
            "allowed_hosts": ["127.0.0.1"],
            "items_path": "$.data",
            "content_fields": "title",
        });
        if id {
            c["id_field"] = json!("id");
        }
        for (k, v) in pagination.as_object().unwrap() {
            c[k] = v.clone();
        }
        serde_json::from_value::<RestApiConfig>(c).unwrap()
    };
    let cursor = json!({"pagination_type": "cursor",
        "pagination_config": {"cursor_param": "cursor", "next_cursor_path": "$.meta.next"}});
    let numbered = json!({"pagination_type": "page", "pagination_config": {"page_size": 2}});
    for (pagination, id, planned) in [
        (cursor.clone(), true, true),
        (cursor, false, false),
        (numbered, true, false),
    ] {
        let cfg = cfg(pagination.clone(), id);
        let mapping = Mapping::new(&cfg).unwrap();
        let client = RestClient::new(cfg).unwrap().with_plan(mapping.plan());
        let page = client
            .fetch_page(client.endpoint.start(), None)
            .await
            .unwrap();
        assert_eq!(
            matches!(page.items, PageItems::Planned { .. }),
            planned,
            "{pagination} id {id}"
        );
        assert!(
            matches!(
                page.items,
                PageItems::Planned { len: 2, .. } | PageItems::Raw { len: 2, .. }
            ),
            "{pagination} id {id}"
        );
        assert!(page.next.is_some(), "{pagination} id {id}");
    }
}
