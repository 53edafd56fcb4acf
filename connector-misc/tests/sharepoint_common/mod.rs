//! The fake Microsoft Graph of `onedrive_common` (one Graph, shared) with SharePoint sites on
//! it: two sites with document libraries and pages, and a OneDrive personal site that
//! `getAllSites` lists and the connector leaves out.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[path = "../onedrive_common/mod.rs"]
mod graph_fake;

use std::sync::Arc;

use connector_core::Connector;
use serde_json::{Value, json};

#[allow(unused_imports)] // The lists tests' (sharepoint.rs), not the conformance file's.
pub use graph_fake::FakeList;
#[allow(unused_imports)] // The conformance tests' (certificate credentials, checkpoints).
pub use graph_fake::graph_wire;
pub use graph_fake::{FakeGraph, SECRET, Site, TENANT, time};

pub const ENG: &str = "contoso.sharepoint.com,1b2c3d4e-0000-4000-8000-00000000e001,7f8e9d0c-0000-4000-8000-00000000e0e1";
pub const ENG_COLLECTION: &str = "1b2c3d4e-0000-4000-8000-00000000e001";
pub const ENG_URL: &str = "https://contoso.sharepoint.com/sites/Eng";
pub const HR: &str = "contoso.sharepoint.com,2c3d4e5f-0000-4000-8000-00000000f002,8e9d0c1b-0000-4000-8000-00000000f0f2";
pub const HR_URL: &str = "https://contoso.sharepoint.com/sites/HR";

/// A connector on `server` with `extra` config fields.
pub fn build(server: &str, extra: Value) -> Arc<dyn Connector> {
    let mut config = json!({
        "credentials": {"tenant_id": TENANT, "client_id": "app-id", "client_secret": SECRET,
                        "site_url": ENG_URL},
        "authority_host": server,
        "graph_url": server,
        "allowed_hosts": ["127.0.0.1", "localhost"],
        // A loopback fake: no limit of the connector's own.
        "requests_per_second": 0,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        if k == "site_url" {
            config["credentials"]["site_url"] = v.clone();
        } else {
            config[k.as_str()] = v.clone();
        }
    }
    let config: connector_misc::sharepoint::SharepointConfig =
        connector_core::config::from_json(config).unwrap();
    Arc::new(connector_misc::sharepoint::SharepointConnector::new(config).unwrap())
}

/// A modern page as Graph v1.0 lists it with `$expand=canvasLayout`.
pub fn page(id: &str, name: &str, title: &str, minute: i64, html: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.sitePage",
        "id": id, "name": name, "title": title,
        "description": format!("About {title}."),
        "webUrl": format!("SitePages/{name}"),
        "eTag": format!("\"{{{id}}},3\""),
        "pageLayout": "article", "promotionKind": "page",
        "createdDateTime": "2026-01-01T00:00:00Z",
        "lastModifiedDateTime": time(minute).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "createdBy": {"user": {"displayName": "Ada Lovelace", "email": "ada@contoso.com"}},
        "lastModifiedBy": {"user": {"displayName": "Bob", "email": "bob@contoso.com"}},
        "canvasLayout": {
            "horizontalSections": [{"layout": "oneColumn", "id": "1", "emphasis": "none", "columns": [
                {"id": "1", "width": 12, "webparts": [
                    {"@odata.type": "#microsoft.graph.textWebPart", "id": "w1", "innerHtml": html},
                    {"@odata.type": "#microsoft.graph.standardWebPart", "id": "w2",
                     "webPartType": "c4bd7b2f-7b6e-4599-8485-16504575f590",
                     "data": {"dataVersion": "1.0", "title": "Quick links", "description": "Where to go",
                              "serverProcessedContent": {
                                  "searchablePlainTexts": [{"key": "items[0].title", "value": "Runbook"}],
                                  "htmlStrings": [], "imageSources": [], "links": []}}}
                ]}
            ]}],
            "verticalSection": {"emphasis": "none", "webparts": [
                {"@odata.type": "#microsoft.graph.textWebPart", "id": "w3", "innerHtml": "<p>Contact: <a href=\"mailto:eng@contoso.com\">eng@contoso.com</a></p>"}
            ]}
        }
    })
}

/// Site Eng (libraries `b!eng-docs` and `b!eng-specs`, two pages), site HR (library
/// `b!hr-docs`, one page) and Ada's personal site; Eng's files at minutes 1..=4, HR's at 5.
pub fn standard(page_size: usize) -> FakeGraph {
    let g = FakeGraph::new(page_size);
    g.site(Site {
        id: ENG.into(),
        url: ENG_URL.into(),
        name: "Engineering".into(),
        drives: vec!["b!eng-docs".into(), "b!eng-specs".into()],
        pages: vec![
            page("p-home", "Home.aspx", "Engineering home", 2,
                "<h2>Welcome</h2><p>Our <strong>on-call</strong> rota is <a href=\"https://contoso.sharepoint.com/sites/Eng/rota\">here</a>.</p><ul><li>Deploys on Tuesday</li><li>Freeze in December</li></ul>"),
            page("p-onboard", "Onboarding.aspx", "Onboarding", 6, "<p>Read the handbook.</p>"),
        ],
        personal: false,
        pages_drive: "b!eng-pages".into(),
    });
    g.site(Site {
        id: HR.into(),
        url: HR_URL.into(),
        name: "HR".into(),
        drives: vec!["b!hr-docs".into()],
        pages: vec![page(
            "p-hr",
            "Benefits.aspx",
            "Benefits",
            5,
            "<p>Dental and vision.</p>",
        )],
        personal: false,
        pages_drive: "b!hr-pages".into(),
    });
    g.site(Site {
        id: "contoso-my.sharepoint.com,3d4e5f60-0000-4000-8000-000000000003,9d0c1b2a-0000-4000-8000-000000000004".into(),
        url: "https://contoso-my.sharepoint.com/personal/ada_contoso_com".into(),
        name: "Ada Lovelace".into(),
        drives: vec!["b!ada".into()],
        pages: Vec::new(),
        personal: true,
        pages_drive: String::new(),
    });
    {
        let mut s = g.state.lock().unwrap();
        let members = json!({"id": "m", "roles": ["write"],
            "grantedToV2": {"siteGroup": {"displayName": "Engineering Members", "id": "3", "loginName": "Engineering Members"}}});
        s.drives
            .get_mut("b!eng-docs")
            .unwrap()
            .root_permissions
            .push(members.clone());
        s.drives
            .get_mut("b!eng-specs")
            .unwrap()
            .root_permissions
            .push(members.clone());
        s.drives
            .get_mut("b!eng-pages")
            .unwrap()
            .root_permissions
            .push(members);
        let hr = json!({"id": "m", "roles": ["read"],
            "grantedToV2": {"siteGroup": {"displayName": "HR Members", "id": "3"}}});
        s.drives
            .get_mut("b!hr-docs")
            .unwrap()
            .root_permissions
            .push(hr.clone());
        s.drives
            .get_mut("b!hr-pages")
            .unwrap()
            .root_permissions
            .push(hr);
    }
    g.folder("b!eng-docs", "EF1", "Runbooks", "root");
    g.put(
        "b!eng-docs",
        "E1",
        "deploy.md",
        "EF1",
        "# Deploy\n\nRun the pipeline.",
        1,
    );
    g.put("b!eng-docs", "E2", "design.txt", "root", "the design", 3);
    g.put("b!eng-docs", "E3", "diagram.png", "root", "png-bytes", 3);
    g.put("b!eng-specs", "S1", "api.txt", "root", "the api", 4);
    g.put("b!hr-docs", "H1", "leave.txt", "root", "leave policy", 5);
    g.put("b!ada", "A1", "private.txt", "root", "ada's own", 5);
    g.backdate();
    g
}
