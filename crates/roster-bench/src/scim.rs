//! SCIM provisioning as an identity provider does it: users created through `POST /Bulk`, 1,000 operations a
//! request, then `GET /Users?filter=userName eq "…"` lookups (Okta's check before each create).

use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::load;

const TENANT: &str = "bench-scim";
const PER_REQUEST: usize = 1_000;

/// The body of bulk request `n`: users `n * 1000 ..` up to `users`.
fn bulk_body(n: usize, users: usize) -> String {
    let operations: Vec<serde_json::Value> = (n * PER_REQUEST..((n + 1) * PER_REQUEST).min(users))
        .map(|i| {
            serde_json::json!({
                "method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "userName": format!("scim-user-{i}"), "externalId": format!("00u{i}"),
                    "name": {"givenName": "Scim", "familyName": format!("User {i}")},
                    "emails": [{"value": format!("scim-user-{i}@bench.example"), "type": "work", "primary": true}],
                    "active": true,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("D{}", i % 20)}
                }
            })
        })
        .collect();
    serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations})
        .to_string()
}

/// Create the tenant, provision `users` through Bulk over `connections` connections, check they all exist, then
/// drive userName lookups for `seconds` over `lookup_connections`.
pub async fn run(
    base: &str,
    auth: &str,
    users: usize,
    connections: usize,
    lookup_connections: usize,
    seconds: u64,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let tenant = serde_json::json!({"slug": TENANT, "name": "SCIM bench"}).to_string();
    load::send(base, auth, hyper::Method::POST, "/v1/tenants", Some(&tenant)).await.context("the SCIM tenant")?;
    let requests = users.div_ceil(PER_REQUEST);
    let started = Instant::now();
    let bulk = load::run(base, auth, connections, load::Budget::Requests(requests), move |i| {
        load::Call::post(format!("/scim/v2/tenants/{TENANT}/Bulk"), bulk_body(i, users))
    })
    .await?;
    let seconds_taken = started.elapsed().as_secs_f64();
    if bulk.errors > 0 {
        bail!("{} bulk requests failed", bulk.errors);
    }
    // every operation must have created its user: the list's total says so
    let listed: serde_json::Value = serde_json::from_str(
        &load::send(base, auth, hyper::Method::GET, &format!("/scim/v2/tenants/{TENANT}/Users?count=0"), None).await?,
    )?;
    let total = listed["totalResults"].as_u64().unwrap_or(0) as usize;
    if total != users {
        bail!("Bulk created {total} users, not {users}");
    }
    let rate = users as f64 / seconds_taken;
    println!(
        "{:<28} {:>10.0} users/s  ({users} users in {seconds_taken:.1} s, {requests} requests of {PER_REQUEST}, \
         {connections} connections)",
        "SCIM Bulk provisioning", rate
    );
    report.insert(
        "scim_bulk".into(),
        serde_json::json!({"users": users, "seconds": seconds_taken, "users_per_s": rate, "connections": connections}),
    );

    let duration = std::time::Duration::from_secs(seconds);
    let lookups = load::run(base, auth, lookup_connections, load::Budget::Time(duration), move |i| {
        let k = (i * 7919) % users;
        load::Call::get(format!("/scim/v2/tenants/{TENANT}/Users?filter=userName%20eq%20%22scim-user-{k}%22"))
    })
    .await?;
    lookups.print("SCIM userName eq lookup");
    report.insert("scim_username_lookup".into(), lookups.json());
    Ok(())
}
