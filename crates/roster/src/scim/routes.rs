//! `/scim/v2/tenants/{tenant}/…`: the SCIM endpoints. Every route needs an admin of the tenant (an API key of role
//! admin, or a sysadmin's credential); the tenant comes from the path as on every other route, so a resource of
//! another tenant is not found. Handlers parse, then call [`Ctx`], which Bulk calls too.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::attrs::{self, Path as AttrPath};
use super::discovery::{self, MAX_BULK_OPERATIONS, MAX_RESULTS};
use super::{filter, groups, patch, users, ScimError, SCIM_JSON};
use super::{BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA};
use crate::http::{AppState, IfMatch, JsonBody, QueryParams, Scoped};
use crate::principal::{AdminScope, TenantScope};
use crate::users::{Passwords, User, UserFilter};

/// Matches a sorted list may hold: past this, a sorted answer asks for a narrower filter (`tooMany`).
const MAX_SORTED: usize = 10_000;
/// Users or groups read per page while a filter is evaluated over all of them.
const SCAN_PAGE: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_provider_config))
        .routes(routes!(resource_types))
        .routes(routes!(resource_type))
        .routes(routes!(schemas))
        .routes(routes!(schema))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, replace_user, patch_user, delete_user))
        .routes(routes!(search_users))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, replace_group, patch_group, delete_group))
        .routes(routes!(search_groups))
        .routes(routes!(bulk))
        // searching Users and Groups at once (RFC 7644 §3.4.3) is not offered: each type has its own .search
        .route(
            "/scim/v2/tenants/{tenant}/.search",
            axum::routing::post(|| async {
                ScimError::new(StatusCode::NOT_IMPLEMENTED, None, "search Users/.search or Groups/.search")
            }),
        )
        .route("/scim/v2/{*rest}", axum::routing::any(|| async { ScimError::not_found("SCIM endpoint") }))
}

/// A SCIM resource or message (RFC 7643, RFC 7644): its attributes are described by the server's `Schemas`.
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
struct ScimMessage(Value);

/// A SCIM error (RFC 7644 §3.12).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ScimErrorBody {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`
    schemas: Vec<String>,
    /// The HTTP status, as text.
    status: String,
    /// `invalidFilter`, `tooMany`, `uniqueness`, `mutability`, `invalidSyntax`, `invalidPath`, `noTarget`,
    /// `invalidValue`, `invalidVers`, `sensitive`, `tooLarge`, where one applies.
    #[schema(rename = "scimType")]
    scim_type: Option<String>,
    detail: String,
}

/// The parameters of a list (RFC 7644 §3.4.2).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, non_snake_case)]
struct ListParams {
    /// A filter (RFC 7644 §3.4.2.2), e.g. `userName eq "bjensen"`.
    filter: Option<String>,
    /// The attribute to sort by.
    sortBy: Option<String>,
    /// `ascending` (default) or `descending`.
    sortOrder: Option<String>,
    /// The first result's position, from 1.
    startIndex: Option<i64>,
    /// Results per page (default 100, at most 1,000).
    count: Option<i64>,
    /// Attributes to return (comma-separated).
    attributes: Option<String>,
    /// Attributes not to return (comma-separated).
    excludedAttributes: Option<String>,
}

/// `attributes` / `excludedAttributes` of a single resource.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, non_snake_case)]
struct ProjectionParams {
    /// Attributes to return (comma-separated).
    attributes: Option<String>,
    /// Attributes not to return (comma-separated).
    excludedAttributes: Option<String>,
}

/// `…/{id}` of the resource routes.
#[derive(serde::Deserialize)]
struct IdPath {
    #[allow(dead_code)]
    tenant: String,
    id: String,
}

/// `…/{name}` of the discovery routes.
#[derive(serde::Deserialize)]
struct NamePath {
    #[allow(dead_code)]
    tenant: String,
    #[serde(alias = "urn")]
    name: String,
}

/// What a SCIM operation answers: status, the resource (none for a deletion), and its version.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
}

impl Answer {
    fn resource(status: StatusCode, body: Value) -> Self {
        Answer { status, body: Some(body) }
    }

    fn version(&self) -> Option<&str> {
        self.body.as_ref()?.get("meta")?.get("version")?.as_str()
    }

    fn location(&self) -> Option<&str> {
        self.body.as_ref()?.get("meta")?.get("location")?.as_str()
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let version = self.version().map(str::to_owned);
        let location = (self.status == StatusCode::CREATED).then(|| self.location().map(str::to_owned)).flatten();
        let mut response = match &self.body {
            Some(body) => (self.status, body.to_string()).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if self.body.is_some() {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        for (name, value) in [(header::ETAG, version), (header::LOCATION, location)] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// A SCIM request in progress: the caller's scope, and the tenant's SCIM address for links.
struct Ctx<'a> {
    state: &'a AppState,
    scope: &'a TenantScope,
    base: String,
}

/// The tenant's SCIM address: the configured public address, else `http://` and the request's `Host`.
fn base_url(state: &AppState, headers: &HeaderMap, scope: &TenantScope) -> String {
    let origin = match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    format!("{origin}/scim/v2/tenants/{}", scope.tenant().slug)
}

fn lookup<'q>(query: &'q HashMap<String, String>, name: &str) -> Option<&'q str> {
    query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The parameters of a list (RFC 7644 §3.4.2).
struct ListQuery {
    filter: Option<scim_v2::filter::Filter>,
    sort_by: Option<AttrPath>,
    descending: bool,
    start_index: usize,
    count: usize,
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl ListQuery {
    fn read(query: &HashMap<String, String>, core: &str, extensions: &[&str]) -> Result<Self, ScimError> {
        let paths = |name: &str| -> Result<Vec<AttrPath>, ScimError> {
            lookup(query, name)
                .map(|list| {
                    list.split(',')
                        .filter(|p| !p.trim().is_empty())
                        .map(|p| {
                            AttrPath::parse(p, core, extensions)
                                .ok_or_else(|| ScimError::invalid_value(format!("{name}: {p:?} is not an attribute")))
                        })
                        .collect()
                })
                .unwrap_or(Ok(Vec::new()))
        };
        let number = |name: &str, default: i64| -> Result<i64, ScimError> {
            match lookup(query, name) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {text:?}"))),
            }
        };
        let sort_by = match lookup(query, "sortBy").filter(|s| !s.trim().is_empty()) {
            Some(text) => Some(
                AttrPath::parse(text, core, extensions)
                    .ok_or_else(|| ScimError::invalid_value(format!("sortBy: {text:?} is not an attribute")))?,
            ),
            None => None,
        };
        let descending = match lookup(query, "sortOrder").map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {other:?}"
                )))
            }
        };
        Ok(ListQuery {
            filter: lookup(query, "filter").filter(|f| !f.trim().is_empty()).map(filter::parse).transpose()?,
            sort_by,
            descending,
            // RFC 7644 §3.4.2.4: below 1 is 1; a negative count is 0
            start_index: number("startIndex", 1)?.max(1) as usize,
            count: number("count", 100)?.clamp(0, MAX_RESULTS as i64) as usize,
            attributes: paths("attributes")?,
            excluded: paths("excludedAttributes")?,
        })
    }

    /// Whether the answer shows `name` (for sparing a read of what is excluded).
    fn shows(&self, name: &str) -> bool {
        let named =
            |paths: &[AttrPath]| paths.iter().any(|p| p.extension.is_none() && p.name.eq_ignore_ascii_case(name));
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !self
            .excluded
            .iter()
            .any(|p| p.extension.is_none() && p.sub_attr.is_none() && p.name.eq_ignore_ascii_case(name))
    }

    /// Whether the filter or the sort looks at `name`, so that resources read for them must carry it.
    fn reads(&self, name: &str) -> bool {
        let in_filter = self
            .filter
            .as_ref()
            .is_some_and(|f| f.to_string().to_ascii_lowercase().contains(&name.to_ascii_lowercase()));
        in_filter || self.sort_by.as_ref().is_some_and(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Picks the page out of the matches as they come, in storage order, or keeps them all to sort.
struct Collect<T> {
    start: usize,
    count: usize,
    sort: bool,
    total: usize,
    items: Vec<(Option<Value>, T)>,
}

impl<T> Collect<T> {
    fn new(query: &ListQuery) -> Self {
        Collect {
            start: query.start_index,
            count: query.count,
            sort: query.sort_by.is_some(),
            total: 0,
            items: Vec::new(),
        }
    }

    fn push(&mut self, key: Option<Value>, item: T) -> Result<(), ScimError> {
        self.total += 1;
        if self.sort {
            if self.items.len() >= MAX_SORTED {
                return Err(ScimError::too_many(format!(
                    "more than {MAX_SORTED} resources match; narrow the filter to sort them"
                )));
            }
            self.items.push((key, item));
        } else if self.total >= self.start && self.items.len() < self.count {
            self.items.push((None, item));
        }
        Ok(())
    }

    /// The page, sorted if asked.
    fn page(mut self, descending: bool) -> (usize, Vec<T>) {
        if self.sort {
            self.items.sort_by(|(a, _), (b, _)| compare_keys(a, b, descending));
            let items = self.items.into_iter().skip(self.start - 1).take(self.count).map(|(_, t)| t).collect();
            return (self.total, items);
        }
        (self.total, self.items.into_iter().map(|(_, t)| t).collect())
    }
}

/// Sort keys: strings without regard to case, numbers, booleans; resources without the attribute last.
fn compare_keys(a: &Option<Value>, b: &Option<Value>, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ordered = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Greater,
        (Some(_), None) => return Ordering::Less,
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    };
    if descending {
        ordered.reverse()
    } else {
        ordered
    }
}

/// The sort key of a resource: the attribute's first value (of a multi-valued one, its first element's).
fn sort_key(resource: &Map<String, Value>, path: &AttrPath) -> Option<Value> {
    let values = path.values(resource);
    values.first().map(|v| (*v).clone()).filter(|v| !v.is_null())
}

fn list_response(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start, "itemsPerPage": resources.len(),
        "Resources": resources
    })
}

const USER_ALWAYS: [&str; 3] = ["id", "schemas", "userName"];
const GROUP_ALWAYS: [&str; 3] = ["id", "schemas", "displayName"];

impl Ctx<'_> {
    fn admin(&self) -> Result<AdminScope<'_>, ScimError> {
        Ok(self.scope.admin().map_err(crate::http::Problem::from)?)
    }

    fn passwords(&self) -> Passwords {
        Passwords::from_config(&self.state.config)
    }

    fn now(&self) -> time::OffsetDateTime {
        self.state.clock.now()
    }

    async fn user_resource(&self, user: &User) -> Result<Value, ScimError> {
        let groups = crate::groups::of_user(&self.state.store, self.admin()?, user.id).await?;
        Ok(users::resource(user, &groups, &self.base))
    }

    async fn live_user(&self, id: &str) -> Result<User, ScimError> {
        let id = users::parse_id(id).ok_or_else(|| ScimError::not_found("user"))?;
        self.admin()?;
        Ok(crate::users::get(&self.state.store, self.scope, id, false).await?)
    }

    async fn get_user(&self, id: &str) -> Result<Answer, ScimError> {
        let user = self.live_user(id).await?;
        Ok(Answer::resource(StatusCode::OK, self.user_resource(&user).await?))
    }

    async fn create_user(&self, body: &Value) -> Result<Answer, ScimError> {
        let doc = users::read(body)?;
        let admin = self.admin()?;
        let (user, _) = crate::users::create_with_invitation(
            &self.state.store,
            admin,
            &self.passwords(),
            self.now(),
            doc.new_user(),
            None,
        )
        .await?;
        Ok(Answer::resource(StatusCode::CREATED, users::resource(&user, &[], &self.base)))
    }

    async fn replace_user(&self, id: &str, if_match: Option<i64>, body: &Value) -> Result<Answer, ScimError> {
        let current = self.live_user(id).await?;
        self.store_user(current, if_match, body).await
    }

    async fn store_user(&self, current: User, if_match: Option<i64>, body: &Value) -> Result<Answer, ScimError> {
        let doc = users::read(body)?;
        let change = doc.provisioned(&current);
        let admin = self.admin()?;
        let user = crate::users::provision(
            &self.state.store,
            admin,
            &self.passwords(),
            self.now(),
            current.id,
            // the version read here unless the caller named one: a change in between is a conflict, not lost
            Some(if_match.unwrap_or(current.version)),
            change,
        )
        .await?;
        Ok(Answer::resource(StatusCode::OK, self.user_resource(&user).await?))
    }

    async fn patch_user(&self, id: &str, if_match: Option<i64>, body: &Value) -> Result<Answer, ScimError> {
        let operations = patch::parse(body, USER_SCHEMA, &[ENTERPRISE_SCHEMA])?;
        let current = self.live_user(id).await?;
        if let Some(expected) = if_match.filter(|v| *v != current.version) {
            return Err(crate::users::UserError::VersionMismatch { current: current.version, expected }.into());
        }
        let Value::Object(mut resource) = self.user_resource(&current).await? else {
            return Err(ScimError::not_found("user"));
        };
        patch::apply(&mut resource, &operations, USER_SCHEMA, &[ENTERPRISE_SCHEMA], &["id", "meta", "groups"])?;
        self.store_user(current, if_match, &Value::Object(resource)).await
    }

    async fn delete_user(&self, id: &str, if_match: Option<i64>) -> Result<Answer, ScimError> {
        let user = self.live_user(id).await?;
        crate::users::delete(&self.state.store, self.admin()?, self.now(), user.id, if_match).await?;
        Ok(Answer { status: StatusCode::NO_CONTENT, body: None })
    }

    /// Users a filter's equalities find through an index; `None` when it has none storage can answer.
    async fn user_candidates(&self, query: &ListQuery) -> Result<Option<Vec<User>>, ScimError> {
        let Some(f) = &query.filter else { return Ok(None) };
        let store = &self.state.store;
        let admin = self.admin()?;
        for (path, value) in filter::equalities(f, USER_SCHEMA) {
            if path.extension.is_some() {
                continue;
            }
            let leaf = (path.name.to_ascii_lowercase(), path.sub_attr.as_deref().map(str::to_ascii_lowercase));
            let found = match (leaf.0.as_str(), leaf.1.as_deref()) {
                ("username", None) => {
                    return Ok(Some(crate::users::find_by_username_any_case(store, admin, &value).await?));
                }
                ("emails", None | Some("value")) => crate::users::find_by_email(store, admin, &value).await.ok(),
                ("externalid", None) => {
                    crate::users::find_by_identity(store, admin.tenant_id(), users::PROVIDER, &value)
                        .await
                        .map_err(crate::http::Problem::from)?
                }
                ("id", None) => match users::parse_id(&value) {
                    Some(id) => crate::users::get(store, self.scope, id, false).await.ok(),
                    None => None,
                },
                _ => continue,
            };
            return Ok(Some(found.into_iter().collect()));
        }
        Ok(None)
    }

    async fn list_users(&self, query: &ListQuery) -> Result<Answer, ScimError> {
        let store = &self.state.store;
        let admin = self.admin()?;
        let with_groups = query.reads("groups");
        let mut collect = Collect::new(query);
        let mut check = |user: User, groups: &[crate::groups::Group]| -> Result<(), ScimError> {
            let resource = users::resource(&user, groups, &self.base);
            let Value::Object(fields) = &resource else { return Ok(()) };
            if query.filter.as_ref().is_none_or(|f| filter::matches(f, fields, USER_SCHEMA)) {
                let key = query.sort_by.as_ref().and_then(|p| sort_key(fields, p));
                collect.push(key, user)?;
            }
            Ok(())
        };
        if let Some(candidates) = self.user_candidates(query).await? {
            for user in candidates {
                let groups =
                    if with_groups { crate::groups::of_user(store, admin, user.id).await? } else { Vec::new() };
                check(user, &groups)?;
            }
        } else if query.filter.is_none() && query.sort_by.is_none() {
            // the plain listing providers page through: counted and read by position in storage
            let total = crate::users::count_live(store, admin).await? as usize;
            let page = crate::users::live_at(store, admin, query.start_index as i64 - 1, query.count as i64).await?;
            let mut resources = Vec::new();
            for user in &page {
                resources.push(self.shown_user(user, query).await?);
            }
            return Ok(Answer::resource(StatusCode::OK, list_response(total, query.start_index, resources)));
        } else {
            let mut cursor = None;
            loop {
                let filter = UserFilter { limit: Some(SCAN_PAGE), cursor: cursor.take(), ..UserFilter::default() };
                let page = crate::users::list(store, admin, &filter).await?;
                for user in page.items {
                    let groups =
                        if with_groups { crate::groups::of_user(store, admin, user.id).await? } else { Vec::new() };
                    check(user, &groups)?;
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        let (total, page) = collect.page(query.descending);
        let mut resources = Vec::new();
        for user in &page {
            resources.push(self.shown_user(user, query).await?);
        }
        Ok(Answer::resource(StatusCode::OK, list_response(total, query.start_index, resources)))
    }

    /// A user as a list shows it: with its groups unless they are not asked for, projected.
    async fn shown_user(&self, user: &User, query: &ListQuery) -> Result<Value, ScimError> {
        let resource = if query.shows("groups") {
            self.user_resource(user).await?
        } else {
            users::resource(user, &[], &self.base)
        };
        Ok(attrs::project(resource, &query.attributes, &query.excluded, &USER_ALWAYS))
    }

    async fn group(&self, id: &str) -> Result<crate::groups::GroupWithMembers, ScimError> {
        let id = users::parse_id(id).ok_or_else(|| ScimError::not_found("group"))?;
        Ok(crate::groups::get(&self.state.store, self.admin()?, id).await?)
    }

    async fn get_group(&self, id: &str) -> Result<Answer, ScimError> {
        let group = self.group(id).await?;
        Ok(Answer::resource(StatusCode::OK, groups::resource(&group, &self.base)))
    }

    async fn create_group(&self, body: &Value) -> Result<Answer, ScimError> {
        let input = groups::read(body)?;
        let group = crate::groups::create(&self.state.store, self.admin()?, self.now(), input).await?;
        Ok(Answer::resource(StatusCode::CREATED, groups::resource(&group, &self.base)))
    }

    async fn replace_group(&self, id: &str, if_match: Option<i64>, body: &Value) -> Result<Answer, ScimError> {
        let id = users::parse_id(id).ok_or_else(|| ScimError::not_found("group"))?;
        let input = groups::read(body)?;
        let group = crate::groups::replace(&self.state.store, self.admin()?, self.now(), id, if_match, input).await?;
        Ok(Answer::resource(StatusCode::OK, groups::resource(&group, &self.base)))
    }

    async fn patch_group(&self, id: &str, if_match: Option<i64>, body: &Value) -> Result<Answer, ScimError> {
        let operations = patch::parse(body, GROUP_SCHEMA, &[])?;
        let current = self.group(id).await?;
        if let Some(expected) = if_match.filter(|v| *v != current.group.version) {
            return Err(crate::groups::GroupError::VersionMismatch { current: current.group.version, expected }.into());
        }
        let Value::Object(mut resource) = groups::resource(&current, &self.base) else {
            return Err(ScimError::not_found("group"));
        };
        patch::apply(&mut resource, &operations, GROUP_SCHEMA, &[], &["id", "meta"])?;
        let input = groups::read(&Value::Object(resource))?;
        let version = Some(if_match.unwrap_or(current.group.version));
        let group =
            crate::groups::replace(&self.state.store, self.admin()?, self.now(), current.group.id, version, input)
                .await?;
        Ok(Answer::resource(StatusCode::OK, groups::resource(&group, &self.base)))
    }

    async fn delete_group(&self, id: &str, if_match: Option<i64>) -> Result<Answer, ScimError> {
        let id = users::parse_id(id).ok_or_else(|| ScimError::not_found("group"))?;
        crate::groups::delete(&self.state.store, self.admin()?, self.now(), id, if_match).await?;
        Ok(Answer { status: StatusCode::NO_CONTENT, body: None })
    }

    async fn list_groups(&self, query: &ListQuery) -> Result<Answer, ScimError> {
        let store = &self.state.store;
        let admin = self.admin()?;
        let with_members = query.reads("members");
        let mut collect = Collect::new(query);
        let mut candidates: Option<Vec<crate::groups::Group>> = None;
        if let Some(f) = &query.filter {
            for (path, value) in filter::equalities(f, GROUP_SCHEMA) {
                let leaf = (path.name.to_ascii_lowercase(), path.sub_attr.as_deref().map(str::to_ascii_lowercase));
                candidates = Some(match (leaf.0.as_str(), leaf.1.as_deref()) {
                    ("displayname", None) => {
                        crate::groups::find_by_name(store, admin, &value).await?.into_iter().collect()
                    }
                    ("externalid", None) => crate::groups::find_by_external_id(store, admin, &value).await?,
                    ("members", None | Some("value")) => match users::parse_id(&value) {
                        Some(user) => crate::groups::of_user(store, admin, user).await?,
                        None => Vec::new(),
                    },
                    ("id", None) => match users::parse_id(&value) {
                        Some(id) => {
                            crate::groups::get(store, admin, id).await.ok().map(|g| g.group).into_iter().collect()
                        }
                        None => Vec::new(),
                    },
                    _ => continue,
                });
                break;
            }
        }
        let mut consider = |group: crate::groups::GroupWithMembers| -> Result<(), ScimError> {
            let resource = groups::resource(&group, &self.base);
            let Value::Object(fields) = &resource else { return Ok(()) };
            if query.filter.as_ref().is_none_or(|f| filter::matches(f, fields, GROUP_SCHEMA)) {
                let key = query.sort_by.as_ref().and_then(|p| sort_key(fields, p));
                collect.push(key, group.group)?;
            }
            Ok(())
        };
        let read = |group: crate::groups::Group| async move {
            if with_members {
                crate::groups::get(store, admin, group.id).await
            } else {
                Ok(crate::groups::GroupWithMembers { group, members: Vec::new() })
            }
        };
        match candidates {
            Some(found) => {
                for group in found {
                    consider(read(group).await?)?;
                }
            }
            None => {
                let mut after = None;
                loop {
                    let page = crate::groups::list(store, admin, after, SCAN_PAGE).await?;
                    let Some(last) = page.last().map(|g| g.id) else { break };
                    for group in page {
                        consider(read(group).await?)?;
                    }
                    after = Some(last);
                }
            }
        }
        let (total, page) = collect.page(query.descending);
        let mut resources = Vec::new();
        for group in page {
            let group = if query.shows("members") {
                crate::groups::get(store, admin, group.id).await?
            } else {
                crate::groups::GroupWithMembers { group, members: Vec::new() }
            };
            let mut resource = groups::resource(&group, &self.base);
            if !query.shows("members") {
                if let Some(fields) = resource.as_object_mut() {
                    fields.remove("members");
                }
            }
            resources.push(attrs::project(resource, &query.attributes, &query.excluded, &GROUP_ALWAYS));
        }
        Ok(Answer::resource(StatusCode::OK, list_response(total, query.start_index, resources)))
    }

    /// A single resource answer projected by `attributes` / `excludedAttributes`.
    fn projected(
        answer: Answer,
        query: &HashMap<String, String>,
        core: &str,
        always: &[&str],
    ) -> Result<Answer, ScimError> {
        let extensions: &[&str] = if core == USER_SCHEMA { &[ENTERPRISE_SCHEMA] } else { &[] };
        let query = ListQuery::read(query, core, extensions)?;
        Ok(Answer {
            status: answer.status,
            body: answer.body.map(|b| attrs::project(b, &query.attributes, &query.excluded, always)),
        })
    }
}

async fn ctx<'a>(state: &'a AppState, scope: &'a TenantScope, headers: &HeaderMap) -> Result<Ctx<'a>, ScimError> {
    scope.admin().map_err(crate::http::Problem::from)?;
    Ok(Ctx { state, scope, base: base_url(state, headers, scope) })
}

type Reply = Result<Answer, ScimError>;

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/ServiceProviderConfig", tag = "scim", params(("tenant" = String, Path)), responses((status = 200, description = "What the service provider supports", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn service_provider_config(State(state): State<AppState>, Scoped(scope): Scoped, headers: HeaderMap) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    Ok(Answer::resource(StatusCode::OK, discovery::service_provider_config(&c.base, state.config.body_limit_bytes)))
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/ResourceTypes", tag = "scim", params(("tenant" = String, Path)), responses((status = 200, description = "The resource types", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn resource_types(State(state): State<AppState>, Scoped(scope): Scoped, headers: HeaderMap) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    Ok(Answer::resource(StatusCode::OK, discovery::list(discovery::resource_types(&c.base))))
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/ResourceTypes/{name}", tag = "scim", params(("tenant" = String, Path), ("name" = String, Path)), responses((status = 200, description = "One resource type", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn resource_type(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<NamePath>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    let found = discovery::resource_types(&c.base).into_iter().find(|t| t["id"].as_str() == Some(path.name.as_str()));
    found.map(|t| Answer::resource(StatusCode::OK, t)).ok_or_else(|| ScimError::not_found("resource type"))
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/Schemas", tag = "scim", params(("tenant" = String, Path)), responses((status = 200, description = "The schemas", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn schemas(State(state): State<AppState>, Scoped(scope): Scoped, headers: HeaderMap) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    Ok(Answer::resource(StatusCode::OK, discovery::list(discovery::schemas(&c.base))))
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/Schemas/{urn}", tag = "scim", params(("tenant" = String, Path), ("urn" = String, Path)), responses((status = 200, description = "One schema", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn schema(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<NamePath>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    let found = discovery::schemas(&c.base)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(&path.name)));
    found.map(|s| Answer::resource(StatusCode::OK, s)).ok_or_else(|| ScimError::not_found("schema"))
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/Users", tag = "scim", params(("tenant" = String, Path), ListParams), responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    c.list_users(&ListQuery::read(&query, USER_SCHEMA, &[ENTERPRISE_SCHEMA])?).await
}

/// A `SearchRequest` body (RFC 7644 §3.4.3) as the query parameters of a list.
fn search_query(body: &Value) -> Result<HashMap<String, String>, ScimError> {
    const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    let fields = body.as_object().ok_or_else(|| ScimError::invalid_syntax("the body must be a SearchRequest"))?;
    let schemas = attrs::get(fields, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST)))) {
        return Err(ScimError::invalid_syntax(format!("schemas must hold {SEARCH_REQUEST}")));
    }
    let mut query = HashMap::new();
    for name in ["filter", "sortBy", "sortOrder", "startIndex", "count", "attributes", "excludedAttributes"] {
        let text = match attrs::get(fields, name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ScimError::invalid_value(format!("{name} must list strings")))
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            Some(_) => return Err(ScimError::invalid_value(format!("{name} has the wrong type"))),
        };
        query.insert(name.to_owned(), text);
    }
    Ok(query)
}

#[utoipa::path(post, path = "/scim/v2/tenants/{tenant}/Users/.search", tag = "scim", params(("tenant" = String, Path)), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn search_users(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    c.list_users(&ListQuery::read(&search_query(&body)?, USER_SCHEMA, &[ENTERPRISE_SCHEMA])?).await
}

#[utoipa::path(post, path = "/scim/v2/tenants/{tenant}/Groups/.search", tag = "scim", params(("tenant" = String, Path)), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn search_groups(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    c.list_groups(&ListQuery::read(&search_query(&body)?, GROUP_SCHEMA, &[])?).await
}

#[utoipa::path(post, path = "/scim/v2/tenants/{tenant}/Users", tag = "scim", params(("tenant" = String, Path)), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 201, description = "The User created", content_type = "application/scim+json", body = ScimMessage), (status = 409, description = "A userName, email or group name is taken (uniqueness)", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    ctx(&state, &scope, &headers).await?.create_user(&body).await
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/Users/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ProjectionParams), responses((status = 200, description = "The User", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn get_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Reply {
    let answer = ctx(&state, &scope, &headers).await?.get_user(&path.id).await?;
    Ctx::projected(answer, &query, USER_SCHEMA, &USER_ALWAYS)
}

#[utoipa::path(put, path = "/scim/v2/tenants/{tenant}/Users/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change is for (W/\"3\")")), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "The User replaced", content_type = "application/scim+json", body = ScimMessage), (status = 409, description = "A userName, email or group name is taken (uniqueness)", content_type = "application/scim+json", body = ScimErrorBody), (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn replace_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    ctx(&state, &scope, &headers).await?.replace_user(&path.id, if_match, &body).await
}

#[utoipa::path(patch, path = "/scim/v2/tenants/{tenant}/Users/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change is for (W/\"3\")")), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "The User patched", content_type = "application/scim+json", body = ScimMessage), (status = 409, description = "A userName, email or group name is taken (uniqueness)", content_type = "application/scim+json", body = ScimErrorBody), (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn patch_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    ctx(&state, &scope, &headers).await?.patch_user(&path.id, if_match, &body).await
}

#[utoipa::path(delete, path = "/scim/v2/tenants/{tenant}/Users/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change is for (W/\"3\")")), responses((status = 204, description = "Deleted (roster's soft delete)"), (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn delete_user(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    IfMatch(if_match): IfMatch,
) -> Reply {
    ctx(&state, &scope, &headers).await?.delete_user(&path.id, if_match).await
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/Groups", tag = "scim", params(("tenant" = String, Path), ListParams), responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn list_groups(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    c.list_groups(&ListQuery::read(&query, GROUP_SCHEMA, &[])?).await
}

#[utoipa::path(post, path = "/scim/v2/tenants/{tenant}/Groups", tag = "scim", params(("tenant" = String, Path)), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 201, description = "The Group created", content_type = "application/scim+json", body = ScimMessage), (status = 409, description = "A userName, email or group name is taken (uniqueness)", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn create_group(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    ctx(&state, &scope, &headers).await?.create_group(&body).await
}

#[utoipa::path(get, path = "/scim/v2/tenants/{tenant}/Groups/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ProjectionParams), responses((status = 200, description = "The Group", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn get_group(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Reply {
    let answer = ctx(&state, &scope, &headers).await?.get_group(&path.id).await?;
    Ctx::projected(answer, &query, GROUP_SCHEMA, &GROUP_ALWAYS)
}

#[utoipa::path(put, path = "/scim/v2/tenants/{tenant}/Groups/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change is for (W/\"3\")")), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "The Group replaced", content_type = "application/scim+json", body = ScimMessage), (status = 409, description = "A userName, email or group name is taken (uniqueness)", content_type = "application/scim+json", body = ScimErrorBody), (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn replace_group(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    ctx(&state, &scope, &headers).await?.replace_group(&path.id, if_match, &body).await
}

#[utoipa::path(patch, path = "/scim/v2/tenants/{tenant}/Groups/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change is for (W/\"3\")")), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "The Group patched", content_type = "application/scim+json", body = ScimMessage), (status = 409, description = "A userName, email or group name is taken (uniqueness)", content_type = "application/scim+json", body = ScimErrorBody), (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn patch_group(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    ctx(&state, &scope, &headers).await?.patch_group(&path.id, if_match, &body).await
}

#[utoipa::path(delete, path = "/scim/v2/tenants/{tenant}/Groups/{id}", tag = "scim", params(("tenant" = String, Path), ("id" = String, Path, description = "The resource's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change is for (W/\"3\")")), responses((status = 204, description = "Deleted with its memberships"), (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = ScimErrorBody)), security(("bearer" = [])))]
async fn delete_group(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    Path(path): Path<IdPath>,
    IfMatch(if_match): IfMatch,
) -> Reply {
    ctx(&state, &scope, &headers).await?.delete_group(&path.id, if_match).await
}

/// `POST …/Bulk` (RFC 7644 §3.7): operations one after another, each its own transaction; `bulkId:` references to
/// resources created earlier in the request are replaced by their ids; with `failOnErrors`, processing stops after
/// that many errors.
#[utoipa::path(post, path = "/scim/v2/tenants/{tenant}/Bulk", tag = "scim", params(("tenant" = String, Path)), request_body(content = ScimMessage, content_type = "application/scim+json"), responses((status = 200, description = "A BulkResponse: each operation's outcome", content_type = "application/scim+json", body = ScimMessage)), security(("bearer" = [])))]
async fn bulk(
    State(state): State<AppState>,
    Scoped(scope): Scoped,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let c = ctx(&state, &scope, &headers).await?;
    let fields = body.as_object().ok_or_else(|| ScimError::invalid_syntax("the body must be a BulkRequest"))?;
    let schemas = attrs::get(fields, "schemas").and_then(Value::as_array);
    if !schemas
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))))
    {
        return Err(ScimError::invalid_syntax(format!("schemas must hold {BULK_REQUEST_SCHEMA}")));
    }
    let operations = attrs::get(fields, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if operations.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            format!("at most {MAX_BULK_OPERATIONS} operations per request"),
        ));
    }
    let fail_on_errors = match attrs::get(fields, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => n.as_u64(),
        Some(_) => return Err(ScimError::invalid_value("failOnErrors must be an integer of at least 1")),
    };
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0;
    for operation in operations {
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        let method = operation.get("method").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
        let bulk_id = operation.get("bulkId").and_then(Value::as_str).map(str::to_owned);
        let outcome = bulk_operation(&c, operation, &method, &created).await;
        let mut result = Map::new();
        result.insert("method".into(), json!(method));
        if let Some(id) = &bulk_id {
            result.insert("bulkId".into(), json!(id));
        }
        match outcome {
            Ok(answer) => {
                if let (Some(bulk_id), Some(id)) = (&bulk_id, answer.body.as_ref().and_then(|b| b["id"].as_str())) {
                    created.insert(bulk_id.clone(), id.to_owned());
                }
                if let Some(location) = answer.location() {
                    result.insert("location".into(), json!(location));
                }
                if let Some(version) = answer.version() {
                    result.insert("version".into(), json!(version));
                }
                result.insert("status".into(), json!(answer.status.as_str()));
            }
            Err(error) => {
                errors += 1;
                result.insert("status".into(), json!(error.status.as_str()));
                result.insert("response".into(), error.body());
            }
        }
        results.push(Value::Object(result));
    }
    Ok(Answer::resource(StatusCode::OK, json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results})))
}

/// One operation of a bulk request.
async fn bulk_operation(
    c: &Ctx<'_>,
    operation: &Value,
    method: &str,
    created: &HashMap<String, String>,
) -> Result<Answer, ScimError> {
    let fields = operation.as_object().ok_or_else(|| ScimError::invalid_syntax("an operation must be an object"))?;
    let path = attrs::get(fields, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("path is required"))?;
    let path = resolve_bulk_ids(&Value::String(path.to_owned()), created)?;
    let path = path.as_str().unwrap_or_default();
    let data = match attrs::get(fields, "data") {
        Some(data) => Some(resolve_bulk_ids(data, created)?),
        None => None,
    };
    let if_match = match attrs::get(fields, "version").and_then(Value::as_str) {
        Some(tag) => {
            let text = tag.trim().strip_prefix("W/").unwrap_or(tag.trim()).trim_matches('"');
            Some(
                text.parse::<i64>()
                    .map_err(|_| ScimError::invalid_value(format!("version {tag:?} is not one of ours")))?,
            )
        }
        None => None,
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let need_data = || data.as_ref().ok_or_else(|| ScimError::invalid_syntax(format!("{method} {path} needs data")));
    match (method, segments.as_slice()) {
        ("POST", ["Users"]) => c.create_user(need_data()?).await,
        ("POST", ["Groups"]) => c.create_group(need_data()?).await,
        ("PUT", ["Users", id]) => c.replace_user(id, if_match, need_data()?).await,
        ("PUT", ["Groups", id]) => c.replace_group(id, if_match, need_data()?).await,
        ("PATCH", ["Users", id]) => c.patch_user(id, if_match, need_data()?).await,
        ("PATCH", ["Groups", id]) => c.patch_group(id, if_match, need_data()?).await,
        ("DELETE", ["Users", id]) => c.delete_user(id, if_match).await,
        ("DELETE", ["Groups", id]) => c.delete_group(id, if_match).await,
        _ => Err(ScimError::invalid_syntax(format!("{method} {path} is not an operation of this server"))),
    }
}

/// Replace every `bulkId:x` value in `value` (a whole string, as RFC 7644 §3.7.2 writes references) by the id
/// created for `x` earlier in the request; a path's segments likewise (`/Users/bulkId:x`).
fn resolve_bulk_ids(value: &Value, created: &HashMap<String, String>) -> Result<Value, ScimError> {
    let resolve = |text: &str| -> Result<String, ScimError> {
        match text.strip_prefix("bulkId:") {
            Some(bulk_id) => created.get(bulk_id).cloned().ok_or_else(|| {
                ScimError::new(
                    StatusCode::CONFLICT,
                    Some("invalidValue"),
                    format!("bulkId:{bulk_id} names no resource created before this operation"),
                )
            }),
            None => Ok(text.to_owned()),
        }
    };
    Ok(match value {
        Value::String(s) if s.starts_with('/') => {
            Value::String(s.split('/').map(resolve).collect::<Result<Vec<_>, _>>()?.join("/"))
        }
        Value::String(s) => Value::String(resolve(s)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_bulk_ids(v, created)).collect::<Result<_, _>>()?)
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), resolve_bulk_ids(v, created)?)))
                .collect::<Result<_, ScimError>>()?,
        ),
        other => other.clone(),
    })
}
