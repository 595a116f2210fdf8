//! SCIM 2.0 over HTTP, as identity providers call it: discovery, Users and Groups with filters, sorting, paging,
//! projections, PATCH in Okta's and Entra ID's ways, ETags, Bulk, and every route's refusals (no key, a low key,
//! another tenant, bad input), on both backends.

mod common;

use reqwest::{Method, StatusCode};
use roster::principal::Role;
use serde_json::{json, Value};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

async fn scim(
    server: &common::Server,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> common::Reply {
    let path = format!("/scim/v2/tenants/acme{path}");
    server.send(method, &path, Some(key), body.as_ref(), headers).await
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "name": {"givenName": name, "familyName": "Test"},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}], "active": true})
}

fn patch_op(operations: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": operations})
}

/// A SCIM error of `status` and `scim_type`.
fn assert_error(reply: &common::Reply, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/scim+json"), "{:?}", reply.body);
    assert_eq!(reply.body["schemas"], json!([ERROR]), "{:?}", reply.body);
    assert_eq!(reply.body["status"], status.as_str());
    assert_eq!(reply.body["scimType"].as_str(), scim_type, "{:?}", reply.body);
}

async fn create_user(server: &common::Server, key: &str, name: &str) -> String {
    let reply = scim(server, Method::POST, "/Users", key, Some(user(name)), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

e2e_test!(discovery_says_what_the_server_supports_to_admins_only, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let config = scim(&server, Method::GET, "/ServiceProviderConfig", &key, None, &[]).await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.header("content-type"), Some("application/scim+json"));
    for feature in ["patch", "bulk", "filter", "sort", "etag", "changePassword"] {
        assert_eq!(config.body[feature]["supported"], true, "{feature}");
    }
    let types = scim(&server, Method::GET, "/ResourceTypes", &key, None, &[]).await;
    assert_eq!(types.body["totalResults"], 2);
    assert_eq!(scim(&server, Method::GET, "/ResourceTypes/User", &key, None, &[]).await.body["schema"], USER);
    let schemas = scim(&server, Method::GET, "/Schemas", &key, None, &[]).await;
    let ids: Vec<&str> =
        schemas.body["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [USER, GROUP, ENTERPRISE]);
    let one = scim(&server, Method::GET, &format!("/Schemas/{ENTERPRISE}"), &key, None, &[]).await;
    assert_eq!(one.body["name"], "EnterpriseUser");
    assert_error(&scim(&server, Method::GET, "/Schemas/urn:nope", &key, None, &[]).await, StatusCode::NOT_FOUND, None);

    // no key, a user's key, another tenant's admin: answered as SCIM errors, and nothing is learnt
    let none = server.send(Method::GET, "/scim/v2/tenants/acme/Users", None, None, &[]).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, None);
    let low = server.tenant_with_key("lowly", Role::User).await;
    let low_reply = server.send(Method::GET, "/scim/v2/tenants/lowly/Users", Some(&low), None, &[]).await;
    assert_error(&low_reply, StatusCode::FORBIDDEN, None);
    let other = server.tenant_with_key("globex", Role::Admin).await;
    assert_error(&scim(&server, Method::GET, "/Users", &other, None, &[]).await, StatusCode::NOT_FOUND, None);
});

e2e_test!(a_user_is_provisioned_changed_deactivated_and_deleted, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let mut body = user("bjensen");
    body["externalId"] = json!("00u-okta-1");
    body[ENTERPRISE] = json!({"employeeNumber": "701984", "department": "Tours", "manager": {"value": "m-1"}});
    body["title"] = json!("Tour Guide");
    body["password"] = json!("correct horse battery staple");
    let created = scim(&server, Method::POST, "/Users", &key, Some(body), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert!(created.header("location").unwrap().ends_with(&format!("/scim/v2/tenants/acme/Users/{id}")));
    assert_eq!(created.body["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(created.body[ENTERPRISE]["department"], "Tours");
    assert_eq!(created.body["title"], "Tour Guide");
    assert_eq!(created.body["externalId"], "00u-okta-1");
    assert_eq!(created.body["name"]["formatted"], "bjensen Test");
    assert!(created.body.get("password").is_none(), "a password is never returned");
    // the same user seen through roster's own API, and signing in with the password the provider set
    let own = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await;
    assert_eq!(
        (own.body["username"].as_str(), own.body["email"].as_str()),
        (Some("bjensen"), Some("bjensen@example.com"))
    );
    assert_eq!((own.body["identity_provider"].as_str(), own.body["status"].as_str()), (Some("scim"), Some("active")));
    server.sign_in("acme", "bjensen", "correct horse battery staple").await;

    // a second user with the same userName is refused as SCIM says
    let again = scim(&server, Method::POST, "/Users", &key, Some(user("BJENSEN")), &[]).await;
    assert_error(&again, StatusCode::CONFLICT, Some("uniqueness"));

    // Entra ID's PATCH: capitalised ops, a boolean as text, a filtered path, a value without a path
    let entra = patch_op(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
        {"op": "Add", "value": {"name.givenName": "Barbara", "nickName": "Babs"}},
        {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"}
    ]));
    let patched =
        scim(&server, Method::PATCH, &format!("/Users/{id}"), &key, Some(entra), &[("if-match", "W/\"1\"")]).await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["active"], false);
    assert_eq!(patched.body["emails"][0]["value"], "barbara@example.com");
    assert_eq!(patched.body["name"]["givenName"], "Barbara");
    assert_eq!(patched.body["nickName"], "Babs");
    assert_eq!(
        patched.body[ENTERPRISE],
        json!({"employeeNumber": "701984", "department": "Sales", "manager": {"value": "m-1"}})
    );
    assert_eq!(patched.header("etag"), Some("W/\"2\""));
    let own = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await;
    assert_eq!(
        (own.body["status"].as_str(), own.body["email"].as_str()),
        (Some("suspended"), Some("barbara@example.com"))
    );

    // a stale ETag, or a well-formed one roster never issued, is 412 for PUT, PATCH and DELETE, and changes nothing
    for tag in ["W/\"1\"", "W/\"stale-version\"", "\"abc\""] {
        let stale = [("if-match", tag)];
        let put = scim(&server, Method::PUT, &format!("/Users/{id}"), &key, Some(user("bjensen")), &stale).await;
        assert_error(&put, StatusCode::PRECONDITION_FAILED, None);
        let op = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
        assert_error(
            &scim(&server, Method::PATCH, &format!("/Users/{id}"), &key, Some(op), &stale).await,
            StatusCode::PRECONDITION_FAILED,
            None,
        );
        assert_error(
            &scim(&server, Method::DELETE, &format!("/Users/{id}"), &key, None, &stale).await,
            StatusCode::PRECONDITION_FAILED,
            None,
        );
    }
    // a header that is no entity tag at all is malformed
    let garbled = [("if-match", "stale-version")];
    let put = scim(&server, Method::PUT, &format!("/Users/{id}"), &key, Some(user("bjensen")), &garbled).await;
    assert_error(&put, StatusCode::BAD_REQUEST, Some("invalidSyntax"));

    // PUT replaces: what it leaves out is gone, active again; the Okta-set externalId stays only if sent again
    let put =
        scim(&server, Method::PUT, &format!("/Users/{id}"), &key, Some(user("bjensen")), &[("if-match", "W/\"2\"")])
            .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["active"], true);
    assert!(
        put.body.get("nickName").is_none()
            && put.body.get(ENTERPRISE).is_none()
            && put.body.get("externalId").is_none()
    );
    assert_eq!(put.body["schemas"], json!([USER]));

    // deletion is roster's soft delete: gone from SCIM, restorable in roster
    let deleted = scim(&server, Method::DELETE, &format!("/Users/{id}"), &key, None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_error(
        &scim(&server, Method::GET, &format!("/Users/{id}"), &key, None, &[]).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &scim(&server, Method::DELETE, &format!("/Users/{id}"), &key, None, &[]).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let own = server.get(&format!("/v1/tenants/acme/users/{id}?include_deleted=true"), &key).await;
    assert!(own.body["deleted_at"].is_string());

    // every change is in the audit log, none with the password
    let entries: Vec<(String, Option<String>)> = server
        .db
        .store
        .query(
            "SELECT action, CAST(new_values AS TEXT) FROM audit_log WHERE resource_type = 'user' AND resource_id = $1 \
             ORDER BY seq",
            vec![id.clone().into()],
        )
        .await
        .unwrap();
    let actions: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["create", "login", "update", "update", "delete"]);
    assert!(entries.iter().all(|(_, values)| !values.as_deref().unwrap_or_default().contains("correct horse")));
    assert_eq!(entries[3].1.as_deref().map(|v| v.contains("\"password\"")), Some(false), "the put set no password");
});

e2e_test!(lists_filter_sort_page_and_project_as_providers_ask, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    for name in ["carol", "alice", "dave", "bob", "eve"] {
        create_user(&server, &key, name).await;
    }
    let list = |query: &str| {
        let path = format!("/Users?{query}");
        let (server, key) = (&server, key.clone());
        async move { scim(server, Method::GET, &path, &key, None, &[]).await }
    };
    let names = |reply: &common::Reply| -> Vec<String> {
        reply.body["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_owned()).collect()
    };
    // Okta: userName eq, paged by startIndex and count
    let found = list("filter=userName%20eq%20%22ALICE%22&startIndex=1&count=100").await;
    assert_eq!((found.body["totalResults"].as_u64(), names(&found)), (Some(1), vec!["alice".to_owned()]));
    assert_eq!(found.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    let none = list("filter=userName%20eq%20%22nobody%22").await;
    assert_eq!(
        (none.body["totalResults"].as_u64(), none.body["Resources"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    // plain paging, in creation order
    let page = list("startIndex=2&count=2").await;
    assert_eq!((page.body["totalResults"].as_u64(), page.body["startIndex"].as_u64()), (Some(5), Some(2)));
    assert_eq!(names(&page), ["alice", "dave"]);
    assert_eq!(list("count=0").await.body["itemsPerPage"], 0);
    // sorting, both ways, with a filter that needs a scan (and precedence: and before or)
    let sorted = list("sortBy=userName").await;
    assert_eq!(names(&sorted), ["alice", "bob", "carol", "dave", "eve"]);
    let descending = list("sortBy=userName&sortOrder=descending&count=2").await;
    assert_eq!(names(&descending), ["eve", "dave"]);
    let f =
        "filter=userName%20sw%20%22a%22%20or%20userName%20eq%20%22bob%22%20and%20active%20eq%20true&sortBy=userName";
    assert_eq!(names(&list(f).await), ["alice", "bob"]);
    let f = "filter=(userName%20sw%20%22a%22%20or%20userName%20eq%20%22bob%22)%20and%20active%20eq%20false";
    assert_eq!(list(f).await.body["totalResults"], 0);
    let f = "filter=emails%5Btype%20eq%20%22work%22%20and%20value%20co%20%22eve%22%5D";
    assert_eq!(names(&list(f).await), ["eve"]);
    // projections: asked attributes plus id and userName; excluded ones gone
    let shown = list("filter=userName%20eq%20%22bob%22&attributes=name.givenName").await;
    let bob = &shown.body["Resources"][0];
    assert_eq!(bob["name"], json!({"givenName": "bob"}));
    assert!(bob["id"].is_string() && bob.get("emails").is_none() && bob.get("meta").is_none());
    let shown = list("filter=userName%20eq%20%22bob%22&excludedAttributes=emails,meta").await;
    assert!(shown.body["Resources"][0].get("emails").is_none() && shown.body["Resources"][0]["name"].is_object());
    // bad parameters are SCIM errors
    assert_error(&list("filter=userName%20eq").await, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    assert_error(&list("filter=userName%20zz%20%22x%22").await, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    assert_error(&list("sortOrder=sideways").await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_error(&list("count=many").await, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

e2e_test!(groups_hold_the_tenants_users_and_change_as_providers_send, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let (ana, bo, cy) = (
        create_user(&server, &key, "ana").await,
        create_user(&server, &key, "bo").await,
        create_user(&server, &key, "cy").await,
    );
    let body = json!({"schemas": [GROUP], "displayName": "Sales", "externalId": "okta-g1",
        "members": [{"value": ana}, {"value": bo}]});
    let created = scim(&server, Method::POST, "/Groups", &key, Some(body), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let gid = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(created.body["members"][0]["type"], "User");
    // a user's groups are read-only, and shown
    let ana_reply = scim(&server, Method::GET, &format!("/Users/{ana}"), &key, None, &[]).await;
    assert_eq!(ana_reply.body["groups"][0]["display"], "Sales");
    let op = patch_op(json!([{"op": "add", "path": "groups", "value": [{"value": gid}]}]));
    let refused = scim(&server, Method::PATCH, &format!("/Users/{ana}"), &key, Some(op), &[]).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, Some("mutability"));

    // Entra ID: members removed by value, added by a list; Okta: replace of the whole list
    let op = patch_op(json!([
        {"op": "Remove", "path": "members", "value": [{"value": ana}]},
        {"op": "Add", "path": "members", "value": [{"value": cy}]}
    ]));
    let patched = scim(&server, Method::PATCH, &format!("/Groups/{gid}"), &key, Some(op), &[]).await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    let mut members: Vec<String> =
        patched.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
    members.sort();
    let mut expected = vec![bo.clone(), cy.clone()];
    expected.sort();
    assert_eq!(members, expected);
    let op = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{bo}\"]")}]));
    let patched = scim(&server, Method::PATCH, &format!("/Groups/{gid}"), &key, Some(op), &[]).await;
    assert_eq!(patched.body["members"].as_array().unwrap().len(), 1);

    // filters by name, by external id and by member; excludedAttributes=members spares the members
    let by_name = scim(&server, Method::GET, "/Groups?filter=displayName%20eq%20%22sales%22", &key, None, &[]).await;
    assert_eq!(by_name.body["totalResults"], 1);
    let by_member =
        scim(&server, Method::GET, &format!("/Groups?filter=members.value%20eq%20%22{cy}%22"), &key, None, &[]).await;
    assert_eq!(by_member.body["totalResults"], 1);
    let by_old =
        scim(&server, Method::GET, &format!("/Groups?filter=members%20eq%20%22{ana}%22"), &key, None, &[]).await;
    assert_eq!(by_old.body["totalResults"], 0);
    let lean = scim(&server, Method::GET, "/Groups?excludedAttributes=members", &key, None, &[]).await;
    assert!(lean.body["Resources"][0].get("members").is_none());
    assert_eq!(lean.body["Resources"][0]["displayName"], "Sales");

    // a member from another tenant is as unknown as a made-up one; a group inside a group is refused
    let other = server.tenant_with_key("globex", Role::Admin).await;
    let reply = server.send(Method::POST, "/scim/v2/tenants/globex/Users", Some(&other), Some(&user("zed")), &[]).await;
    let zed = reply.body["id"].as_str().unwrap().to_owned();
    let op = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": zed}]}]));
    assert_error(
        &scim(&server, Method::PATCH, &format!("/Groups/{gid}"), &key, Some(op), &[]).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    );
    let nested = json!({"schemas": [GROUP], "displayName": "Nested", "members": [{"value": gid, "type": "Group"}]});
    assert_error(
        &scim(&server, Method::POST, "/Groups", &key, Some(nested), &[]).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    );
    // and the other tenant cannot see or change acme's group
    for method in [Method::GET, Method::DELETE] {
        let reply =
            server.send(method, &format!("/scim/v2/tenants/globex/Groups/{gid}"), Some(&other), None, &[]).await;
        assert_error(&reply, StatusCode::NOT_FOUND, None);
    }
    let duplicate = json!({"schemas": [GROUP], "displayName": "SALES"});
    assert_error(
        &scim(&server, Method::POST, "/Groups", &key, Some(duplicate), &[]).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    );

    let put = json!({"schemas": [GROUP], "displayName": "Sales EMEA", "members": [{"value": ana}]});
    let replaced =
        scim(&server, Method::PUT, &format!("/Groups/{gid}"), &key, Some(put), &[("if-match", "W/\"1\"")]).await;
    assert_error(&replaced, StatusCode::PRECONDITION_FAILED, None);
    let deleted = scim(&server, Method::DELETE, &format!("/Groups/{gid}"), &key, None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let audit = server.count("audit_log WHERE resource_type = 'group'").await;
    assert_eq!(audit, 4, "create, two patches, delete");
});

e2e_test!(bulk_applies_operations_in_order_with_references_and_stops_on_errors, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("kim")},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("kim")},
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
                "data": {"schemas": [GROUP], "displayName": "Team", "members": [{"value": "bulkId:u1"}],
                    "description": "not a reference: bulkId:u1"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1",
                "data": patch_op(json!([{"op": "replace", "path": "displayName", "value": "Kim K"}]))},
            {"method": "DELETE", "path": "/Groups/bulkId:nope"}
        ]
    });
    let reply = scim(&server, Method::POST, "/Bulk", &key, Some(body.clone()), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let statuses: Vec<&str> =
        reply.body["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "409", "201", "200", "409"]);
    assert_eq!(reply.body["Operations"][1]["response"]["scimType"], "uniqueness");
    assert!(reply.body["Operations"][0]["location"].as_str().unwrap().contains("/Users/"));
    let team = scim(&server, Method::GET, "/Groups?filter=displayName%20eq%20%22Team%22", &key, None, &[]).await;
    let kim = scim(&server, Method::GET, "/Users?filter=userName%20eq%20%22kim%22", &key, None, &[]).await;
    assert_eq!(kim.body["Resources"][0]["displayName"], "Kim K");
    assert_eq!(team.body["Resources"][0]["members"][0]["value"], kim.body["Resources"][0]["id"]);
    assert_eq!(team.body["Resources"][0]["description"], "not a reference: bulkId:u1");
    // searching across resource types is not offered; each type's .search is
    let root = scim(&server, Method::POST, "/.search", &key, Some(json!({})), &[]).await;
    assert_error(&root, StatusCode::NOT_IMPLEMENTED, None);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"kim\"", "attributes": ["displayName"]});
    let found = scim(&server, Method::POST, "/Users/.search", &key, Some(search), &[]).await;
    assert_eq!(found.body["Resources"][0]["displayName"], "Kim K");
    assert!(found.body["Resources"][0].get("emails").is_none());

    // failOnErrors: 1 stops after the first error
    let mut again = body;
    again["failOnErrors"] = json!(1);
    let reply = scim(&server, Method::POST, "/Bulk", &key, Some(again), &[]).await;
    let statuses: Vec<&str> =
        reply.body["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["409"]);

    // too many operations, and not a BulkRequest
    let many: Vec<Value> = (0..1001).map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")})).collect();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": many});
    assert_error(
        &scim(&server, Method::POST, "/Bulk", &key, Some(body), &[]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        Some("tooMany"),
    );
    let body = json!({"Operations": []});
    assert_error(
        &scim(&server, Method::POST, "/Bulk", &key, Some(body), &[]).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    );
});

e2e_test!(bad_input_is_a_scim_error_and_writes_nothing, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    let before = server.count("users").await;
    let mut nul = user("nul");
    nul["userName"] = json!("a\u{0}b");
    let cases = [
        (Some(nul), StatusCode::BAD_REQUEST, Some("invalidValue")),
        (
            Some(json!({"schemas": [USER], "userName": "x y z", "emails": [{"value": "not an email"}]})),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        ),
        (
            Some(json!({"schemas": [USER], "userName": "ok", "name": {"givenName": 7}})),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        ),
        (
            Some(json!({"schemas": [USER], "userName": "ok", "password": "short"})),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        ),
        (Some(json!([1, 2])), StatusCode::BAD_REQUEST, Some("invalidValue")),
    ];
    for (body, status, kind) in cases {
        let reply = scim(&server, Method::POST, "/Users", &key, body.clone(), &[]).await;
        assert_error(&reply, status, kind);
    }
    let broken = server
        .send(
            Method::POST,
            "/scim/v2/tenants/acme/Users",
            Some(&key),
            None,
            &[("content-type", "application/scim+json")],
        )
        .await;
    assert_error(&broken, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let big = server.post_oversized("/scim/v2/tenants/acme/Users", &key, 2 * 1024 * 1024).await;
    assert_eq!(big, 413);
    assert_error(&scim(&server, Method::GET, "/Users/not-a-uuid", &key, None, &[]).await, StatusCode::NOT_FOUND, None);
    // refused before any SCIM handler runs (a NUL in the query), and still answered as a SCIM error
    let nul_query = scim(&server, Method::GET, "/Users?excludedAttributes=a%00b", &key, None, &[]).await;
    assert_error(&nul_query, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(server.count("users").await, before);
});

e2e_test!(a_provider_cannot_raise_anyone_or_act_above_its_key, |server| async move {
    let key = server.tenant_with_key("acme", Role::Admin).await;
    // a sysadmin of acme, made through roster's own API with the root key
    let boss = server
        .post(
            "/v1/tenants/acme/users",
            &server.root_key,
            json!({"username": "boss", "email": "boss@example.com",
            "role": "sysadmin", "password": "correct horse battery staple"}),
        )
        .await;
    assert_eq!(boss.status, StatusCode::CREATED, "{:?}", boss.body);
    let boss = boss.body["id"].as_str().unwrap().to_owned();
    let before = server.get(&format!("/v1/tenants/acme/users/{boss}"), &server.root_key).await.body;
    // the admin key sees the sysadmin but cannot replace, patch, deactivate or delete it
    let put = scim(&server, Method::PUT, &format!("/Users/{boss}"), &key, Some(user("boss")), &[]).await;
    assert_error(&put, StatusCode::FORBIDDEN, None);
    let op = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_error(
        &scim(&server, Method::PATCH, &format!("/Users/{boss}"), &key, Some(op), &[]).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        &scim(&server, Method::DELETE, &format!("/Users/{boss}"), &key, None, &[]).await,
        StatusCode::FORBIDDEN,
        None,
    );
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "DELETE", "path": format!("/Users/{boss}")}]});
    let reply = scim(&server, Method::POST, "/Bulk", &key, Some(bulk), &[]).await;
    assert_eq!(reply.body["Operations"][0]["status"], "403");
    assert_eq!(server.get(&format!("/v1/tenants/acme/users/{boss}"), &server.root_key).await.body, before);

    // SCIM's roles and userType are kept attributes: they give no role in roster
    let mut body = user("climber");
    body["roles"] = json!([{"value": "sysadmin", "primary": true}]);
    body["userType"] = json!("admin");
    let made = scim(&server, Method::POST, "/Users", &key, Some(body), &[]).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap();
    let own = server.get(&format!("/v1/tenants/acme/users/{id}"), &key).await;
    assert_eq!((own.body["role"].as_str(), own.body["user_type"].as_str()), (Some("user"), Some("member")));
    assert_eq!(made.body["roles"][0]["value"], "sysadmin", "given back as sent, nothing more");
});
