//! Clients: a tenant's registry of people identified by their CPF, with soft delete and audited reads.
//!
//! Who may do what is decided by the permissions gate ([`permissions::require`]) on the `client_management` agent:
//! admins and sysadmins manage every client of their tenant; a user needs a live grant with the matching action
//! (create, read, update, delete; restoring a deactivated client is a delete undone, so it needs delete too). Every
//! function here passes the gate before it reads or writes, and the repository's writes take its proof.
//!
//! Client records are personal data: every read (one client, or each client of a page of a list) writes a `read`
//! audit entry, committed before the data is answered; no entry, no answer. The audit log keeps CPFs masked
//! (`***.456.789-**`), and nothing here logs one.

mod error;
pub mod import;
pub mod model;
mod repo;
pub mod routes;

use time::OffsetDateTime;
use uuid::Uuid;

pub use error::ClientError;
pub use model::{Client, ClientFilter, ClientPatch, Cpf, CpfProblem, NewClient};

use crate::audit::{self, Action, Change};
use crate::http::pagination::{self, Page};
use crate::http::FieldError;
use crate::migrate::Migration;
use crate::permissions::{self, AgentAction, Permitted};
use crate::principal::TenantScope;
use crate::store::{Store, Tx};

pub const MIGRATIONS: &[Migration] = &[crate::migration!(15, "0015_clients", "clients")];

/// The agent whose grants govern the registry.
pub const AGENT: &str = "client_management";

/// A client's fields, checked: what a create or an import writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidClient {
    pub name: String,
    pub cpf: Cpf,
    pub birth_date: time::Date,
}

/// Check a new client's fields, all of them at once; `today` bounds the birth date.
pub fn validate(input: &NewClient, today: time::Date) -> Result<ValidClient, Vec<FieldError>> {
    let name = model::name(&input.name);
    let cpf = Cpf::field("cpf", &input.cpf);
    let birth_date = model::birth_date(&input.birth_date, today);
    match (name, cpf, birth_date) {
        (Ok(name), Ok(cpf), Ok(birth_date)) => Ok(ValidClient { name, cpf, birth_date }),
        (name, cpf, birth_date) => Err([name.err(), cpf.err(), birth_date.err()].into_iter().flatten().collect()),
    }
}

async fn gate<'s>(
    tx: &mut Tx,
    scope: &'s TenantScope,
    now: OffsetDateTime,
    action: AgentAction,
) -> Result<Permitted<'s>, ClientError> {
    Ok(permissions::require(tx, scope, now, AGENT, action).await?)
}

/// Register a client, with its `create` audit entry. 409 if another active client of the tenant has the CPF.
pub async fn create(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    input: NewClient,
) -> Result<Client, ClientError> {
    let mut tx = store.begin().await?;
    let permitted = gate(&mut tx, scope, now, AgentAction::Create).await?;
    let valid = validate(&input, now.date()).map_err(ClientError::Invalid)?;
    let client = insert(&mut tx, &permitted, now, valid).await?;
    tx.commit().await?;
    Ok(client)
}

async fn insert(
    tx: &mut Tx,
    permitted: &Permitted<'_>,
    now: OffsetDateTime,
    valid: ValidClient,
) -> Result<Client, ClientError> {
    let client = new_client(permitted, now, valid);
    repo::insert(tx, permitted, &client).await?;
    audit::record(tx, permitted.scope(), now, created(&client)).await?;
    Ok(client)
}

fn new_client(permitted: &Permitted<'_>, now: OffsetDateTime, valid: ValidClient) -> Client {
    Client {
        id: Uuid::now_v7(),
        tenant_id: permitted.tenant_id().uuid(),
        name_key: model::search_key(&valid.name),
        name: valid.name,
        cpf: valid.cpf,
        birth_date: valid.birth_date,
        created_by: permitted.scope().user_id(),
        created_at: now,
        updated_at: now,
        is_active: true,
        version: 1,
    }
}

/// The `create` entry of a new client.
fn created(client: &Client) -> Change {
    Change::new(Action::Create, "client", client.id).values(None, Some(client.audited()))
}

/// The entry of a change from `current` to `next`: the fields that changed, CPFs masked.
fn changed(action: Action, current: &Client, next: &Client) -> Change {
    let (mut old, mut new) = audit::diff(&current.audited(), &next.audited());
    if current.cpf != next.cpf && current.cpf.masked() == next.cpf.masked() {
        // the masks hide the digits that changed: say that the CPF did
        for (values, cpf) in [(&mut old, &current.cpf), (&mut new, &next.cpf)] {
            if let Some(fields) = values.as_object_mut() {
                fields.insert("cpf".into(), cpf.masked().into());
            }
        }
    }
    Change::new(action, "client", current.id).values(Some(old), Some(new))
}

/// Write the `read` entries of clients about to be answered: committed before the caller sees anything (sharing a
/// commit with concurrent reads, see [`audit::record_alone`]).
async fn record_reads(
    store: &Store,
    permitted: &Permitted<'_>,
    now: OffsetDateTime,
    clients: &[Client],
) -> Result<(), ClientError> {
    let scope = permitted.scope();
    let changes = clients.iter().map(|c| Change::new(Action::Read, "client", c.id)).collect();
    Ok(audit::record_alone(store, scope.tenant_id(), scope.actor(), now, changes).await?)
}

/// A client of the caller's tenant, active or deactivated; the read is audited.
pub async fn get(store: &Store, scope: &TenantScope, now: OffsetDateTime, id: Uuid) -> Result<Client, ClientError> {
    let permitted = permissions::require(store, scope, now, AGENT, AgentAction::Read).await?;
    let client = repo::get(store, permitted.tenant_id(), id).await?.ok_or(ClientError::NotFound)?;
    record_reads(store, &permitted, now, std::slice::from_ref(&client)).await?;
    Ok(client)
}

/// A page of the tenant's clients in name order, by exact CPF (either format) and/or part of the name (ignoring case
/// and accents); active ones only unless asked. Each client answered is an audited read.
pub async fn list(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    filter: &ClientFilter,
) -> Result<Page<Client>, ClientError> {
    let permitted = permissions::require(store, scope, now, AGENT, AgentAction::Read).await?;
    let limit = pagination::limit(filter.limit);
    let after = pagination::decode_text_cursor::<Uuid>(filter.cursor.as_deref());
    let cpf = filter.cpf.as_deref().map(|c| Cpf::field("cpf", c));
    let q = filter.q.as_deref().map(|q| {
        if q.chars().count() > 100 {
            Err(FieldError::new("q", "must be at most 100 characters"))
        } else if q.chars().any(char::is_control) {
            Err(FieldError::new("q", "must not contain control characters"))
        } else {
            Ok(model::search_key(q))
        }
    });
    let errors: Vec<FieldError> = [limit.as_ref().err(), after.as_ref().err()]
        .into_iter()
        .flatten()
        .chain(cpf.as_ref().and_then(|c| c.as_ref().err()))
        .chain(q.as_ref().and_then(|q| q.as_ref().err()))
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(ClientError::Invalid(errors));
    }
    let (limit, after) = (limit.unwrap_or_default(), after.unwrap_or_default());
    let cpf = cpf.and_then(Result::ok);
    let q = q.and_then(Result::ok).filter(|q| !q.is_empty());
    let rows = repo::list(
        store,
        permitted.tenant_id(),
        cpf.as_ref().map(Cpf::digits),
        q.as_deref(),
        filter.include_inactive,
        after,
        limit,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let mut items = rows;
    items.truncate(limit as usize);
    let next_cursor =
        if more { items.last().map(|c| pagination::encode_text_cursor(&c.name_key, &c.id)) } else { None };
    record_reads(store, &permitted, now, &items).await?;
    Ok(Page { items, next_cursor })
}

/// The client an update, deactivation or restore is about, at the version the caller saw (when it said).
async fn load_for_change(
    tx: &mut Tx,
    permitted: &Permitted<'_>,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<Client, ClientError> {
    let client = repo::get(&mut *tx, permitted.tenant_id(), id).await?.ok_or(ClientError::NotFound)?;
    match if_match {
        Some(expected) if expected != client.version => {
            Err(ClientError::VersionMismatch { current: client.version, expected })
        }
        _ => Ok(client),
    }
}

/// Write a changed client and its audit entry; false when nothing changed (no write, no entry).
async fn write_change(
    tx: &mut Tx,
    permitted: &Permitted<'_>,
    now: OffsetDateTime,
    action: Action,
    current: &Client,
    next: &mut Client,
) -> Result<bool, ClientError> {
    if next == current {
        return Ok(false);
    }
    next.updated_at = now;
    if !repo::update(tx, permitted, next, current.version).await? {
        return Err(ClientError::Stale);
    }
    next.version = current.version + 1;
    audit::record(tx, permitted.scope(), now, changed(action, current, next)).await?;
    Ok(true)
}

/// Change an active client's fields; honours `If-Match`. 409 if the new CPF is another active client's.
pub async fn update(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    patch: ClientPatch,
) -> Result<Client, ClientError> {
    let mut tx = store.begin().await?;
    let permitted = gate(&mut tx, scope, now, AgentAction::Update).await?;
    let current = load_for_change(&mut tx, &permitted, id, if_match).await?;
    if !current.is_active {
        return Err(ClientError::Inactive);
    }
    let mut next = current.clone();
    let mut errors = Vec::new();
    if let Some(name) = &patch.name {
        match model::name(name) {
            Ok(name) => {
                next.name_key = model::search_key(&name);
                next.name = name;
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(cpf) = &patch.cpf {
        match Cpf::field("cpf", cpf) {
            Ok(cpf) => next.cpf = cpf,
            Err(e) => errors.push(e),
        }
    }
    if let Some(birth_date) = &patch.birth_date {
        match model::birth_date(birth_date, now.date()) {
            Ok(date) => next.birth_date = date,
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(ClientError::Invalid(errors));
    }
    if write_change(&mut tx, &permitted, now, Action::Update, &current, &mut next).await? {
        tx.commit().await?;
    }
    Ok(next)
}

/// Deactivate a client (a soft delete): it leaves searches, stays readable by id, and its CPF is free.
pub async fn deactivate(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<Client, ClientError> {
    set_active(store, scope, now, id, if_match, false).await
}

/// Undo a deactivation; 409 if another active client has taken the CPF since.
pub async fn restore(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<Client, ClientError> {
    set_active(store, scope, now, id, if_match, true).await
}

async fn set_active(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    active: bool,
) -> Result<Client, ClientError> {
    let mut tx = store.begin().await?;
    let permitted = gate(&mut tx, scope, now, AgentAction::Delete).await?;
    let current = load_for_change(&mut tx, &permitted, id, if_match).await?;
    match (current.is_active, active) {
        (false, false) => return Err(ClientError::Inactive),
        (true, true) => return Err(ClientError::NotInactive),
        _ => {}
    }
    let mut next = Client { is_active: active, ..current.clone() };
    let action = if active { Action::Restore } else { Action::Delete };
    write_change(&mut tx, &permitted, now, action, &current, &mut next).await?;
    tx.commit().await?;
    Ok(next)
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Import checked rows in one transaction, matched on CPF: a row whose CPF no active client has creates one; a row
/// matching an active client updates its name and birth date when they differ, and is left alone otherwise (so
/// importing the same file twice changes nothing; a CPF twice in the rows is one client, as the later row has it).
/// Needs create and update; each client created or changed gets its audit entry.
pub async fn import_batch(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    rows: Vec<ValidClient>,
) -> Result<ImportCounts, ClientError> {
    let mut tx = store.begin().await?;
    let permitted = gate(&mut tx, scope, now, AgentAction::Create).await?;
    gate(&mut tx, scope, now, AgentAction::Update).await?;
    let mut cpfs: Vec<&str> = rows.iter().map(|r| r.cpf.digits()).collect();
    cpfs.sort_unstable();
    cpfs.dedup();
    let found = repo::active_by_cpfs(&mut tx, permitted.tenant_id(), &cpfs).await?;
    // what the tenant holds for each CPF of the batch, as the batch goes: (the client, whether it is in the database)
    let mut current: std::collections::HashMap<String, (Client, bool)> =
        found.into_iter().map(|c| (c.cpf.digits().to_owned(), (c, true))).collect();
    let mut counts = ImportCounts::default();
    let mut changes = Vec::new();
    for row in rows {
        let key = row.cpf.digits().to_owned();
        let Some((existing, stored)) = current.get(&key).cloned() else {
            let client = new_client(&permitted, now, row);
            repo::insert(&mut tx, &permitted, &client).await?;
            changes.push(created(&client));
            current.insert(key, (client, true));
            counts.created += 1;
            continue;
        };
        if existing.name == row.name && existing.birth_date == row.birth_date {
            counts.unchanged += 1;
            continue;
        }
        let next = Client {
            name_key: model::search_key(&row.name),
            name: row.name,
            birth_date: row.birth_date,
            updated_at: now,
            ..existing.clone()
        };
        if stored && !repo::update(&mut tx, &permitted, &next, existing.version).await? {
            return Err(ClientError::Stale);
        }
        changes.push(changed(Action::Update, &existing, &next));
        current.insert(key, (Client { version: existing.version + 1, ..next }, stored));
        counts.updated += 1;
    }
    audit::record_in(&mut tx, scope.tenant_id(), scope.actor(), now, changes).await?;
    tx.commit().await?;
    Ok(counts)
}

#[cfg(test)]
mod tests;
