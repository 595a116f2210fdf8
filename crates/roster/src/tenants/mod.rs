//! Tenants: they own everything. Created and changed by sysadmins.

mod error;
mod model;
mod repo;
pub mod routes;

use uuid::Uuid;

pub use error::TenantError;
pub use model::{NewTenant, Tenant, TenantPatch, TenantSlug, TenantStatus};

use crate::audit::{self, Action, Change};
use crate::http::FieldError;
use crate::migrate::Migration;
use crate::principal::Sysadmin;
use crate::store::{Store, StoreError};

pub const MIGRATIONS: &[Migration] = &[crate::migration!(1, "0001_tenants", "tenants")];

fn view(t: &Tenant) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// Create a tenant (sysadmin), with its audit chain and a `create` entry, in one transaction.
pub async fn create(
    store: &Store,
    sysadmin: &Sysadmin,
    now: time::OffsetDateTime,
    input: NewTenant,
) -> Result<Tenant, TenantError> {
    let mut errors = Vec::new();
    let slug = TenantSlug::parse(&input.slug).map_err(|e| errors.push(e)).ok();
    let name = model::validate_name(&input.name).map_err(|e| errors.push(e)).ok();
    let external_id = input
        .external_id
        .as_deref()
        .map(model::validate_external_id)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (Some(slug), Some(name), true) = (slug, name, errors.is_empty()) else {
        return Err(TenantError::Invalid(errors));
    };
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: slug.as_str().to_owned(),
        name,
        external_id,
        status: TenantStatus::Active,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        version: 1,
    };
    let mut tx = store.begin().await?;
    repo::insert(&mut tx, &tenant).await.map_err(|e| match e {
        e if e.violates(&error::SLUG_UNIQUE) => TenantError::SlugTaken(tenant.slug.clone()),
        other => other.into(),
    })?;
    let scope = sysadmin.scope(tenant.as_ref());
    audit::start_chain(&mut tx, &scope).await?;
    crate::permissions::start_catalogue(&mut tx, &scope, now).await?;
    let change = Change::new(Action::Create, "tenant", tenant.id).values(None, Some(view(&tenant)));
    audit::record(&mut tx, &scope, now, change).await?;
    tx.commit().await?;
    Ok(tenant)
}

/// The live tenant with this slug (tenant resolution, for every request; no caller is needed to know it exists).
pub async fn find(store: &Store, slug: &str) -> Result<Option<Tenant>, StoreError> {
    repo::by_slug(store, slug).await
}

/// The live tenant with this id.
pub async fn find_by_id(store: &Store, id: Uuid) -> Result<Option<Tenant>, StoreError> {
    repo::by_id(store, id).await
}

/// A page of tenants in creation order (sysadmin).
pub async fn list(
    store: &Store,
    _sysadmin: &Sysadmin,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Tenant>, StoreError> {
    repo::list(store, after, limit).await
}

/// Change a tenant (sysadmin); `if_match` is the version the caller last saw.
pub async fn update(
    store: &Store,
    sysadmin: &Sysadmin,
    now: time::OffsetDateTime,
    slug: &str,
    if_match: Option<i64>,
    patch: TenantPatch,
) -> Result<Tenant, TenantError> {
    let mut tx = store.begin().await?;
    let current = repo::by_slug(&mut tx, slug).await?.ok_or(TenantError::NotFound)?;
    if let Some(expected) = if_match.filter(|v| *v != current.version) {
        return Err(TenantError::VersionMismatch { current: current.version, expected });
    }
    let mut next = current.clone();
    let mut errors: Vec<FieldError> = Vec::new();
    if let Some(name) = &patch.name {
        match model::validate_name(name) {
            Ok(name) => next.name = name,
            Err(e) => errors.push(e),
        }
    }
    if let Some(external_id) = &patch.external_id {
        match external_id.as_deref().map(model::validate_external_id).transpose() {
            Ok(id) => next.external_id = id,
            Err(e) => errors.push(e),
        }
    }
    if let Some(status) = patch.status {
        next.status = status;
    }
    if !errors.is_empty() {
        return Err(TenantError::Invalid(errors));
    }
    if next == current {
        return Ok(current);
    }
    if !repo::update(&mut tx, &next, current.version, now).await? {
        return Err(TenantError::Stale);
    }
    next.version += 1;
    next.updated_at = now;
    let (old, new) = audit::diff(&view(&current), &view(&next));
    let action = if current.status != next.status { Action::StatusChange } else { Action::Update };
    let change = Change::new(action, "tenant", next.id).values(Some(old), Some(new));
    audit::record(&mut tx, &sysadmin.scope(next.as_ref()), now, change).await?;
    tx.commit().await?;
    if current.status != next.status {
        // keys of this tenant that this process remembers as verified are read again
        crate::principal::authority_narrowed();
    }
    Ok(next)
}
