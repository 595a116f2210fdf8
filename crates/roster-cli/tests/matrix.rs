//! Who may call what, proven over every route the server documents: each route of `/openapi.json` × every kind of
//! caller × every kind of target, with the expected answer for each. A route missing from [`access_of`] fails the
//! test, so the matrix grows with the API.
//!
//! Every cell gets a fresh caller and a fresh target, so what one cell does (ending sessions, deleting a user) cannot
//! change the answer of another.

mod common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster::clock::{Clock, SystemClock};
use roster::config::Config;
use roster::principal::{Actor, Role, TenantScope};
use roster::store::Backend;
use roster::users::{NewUser, Passwords};
use serde_json::{json, Value};
use uuid::Uuid;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, signed in or not (sign-in, registration, resets): never 403 or 404 for a tenant that exists.
    Public,
    /// The signed-in user, about itself: anonymous 401, an API key (which has no user) 400 or 404.
    Me,
    /// Sysadmins only (tenants).
    Sysadmin,
    /// An API key of role admin or above, in a tenant it may enter (external sign-in).
    AdminKey,
    /// An admin or sysadmin of the tenant.
    Admin,
    /// A user reads itself; admins read anyone of the tenant.
    ReadUser,
    /// An admin acts on a user whose role is not above its own.
    Administer,
    /// The client registry: admins and sysadmins of the tenant, and users granted the action on `client_management`
    /// (the matrix's callers hold no grant; the clients tests try grants).
    Clients,
    /// Anyone of the tenant, whatever its role (scenarios to practise on, the achievement catalogue).
    Member,
    /// A practice session (no tenant in the path: it is looked for in the caller's own tenant): its user, and admins
    /// of its tenant signed in or by key; anyone else does not find it.
    Session,
    /// Scoring a session: admins of its tenant; its user sees it but may not score it (403); others do not find it.
    Coach,
    /// An admin of the tenant, on a route whose path the matrix fills with nothing there (a SCIM group named by a
    /// user's id, a resource type or schema named `{name}`): 404 to those who may call it.
    AdminFindsNothing,
}

/// The route table: every documented route and who may call it.
fn access_of(method: &str, path: &str) -> Option<Access> {
    use Access::*;
    Some(match (method, path) {
        ("POST", "/v1/auth/logout") => Me,
        ("GET" | "PATCH", "/v1/me") => Me,
        ("POST", "/v1/me/activity" | "/v1/me/password" | "/v1/me/totp/enroll" | "/v1/me/totp/confirm") => Me,
        ("DELETE", "/v1/me/totp") => Me,
        ("GET", "/v1/me/sessions" | "/v1/me/permissions" | "/v1/me/audit") => Me,
        ("DELETE", "/v1/me/sessions/{session}") => Me,
        ("GET" | "POST", "/v1/tenants") => Sysadmin,
        ("GET" | "PATCH", "/v1/tenants/{tenant}") => Sysadmin,
        ("POST", "/v1/tenants/{tenant}/auth/external") => AdminKey,
        (
            "POST",
            "/v1/tenants/{tenant}/auth/login"
            | "/v1/tenants/{tenant}/auth/register"
            | "/v1/tenants/{tenant}/auth/verify-email"
            | "/v1/tenants/{tenant}/auth/password-reset/request"
            | "/v1/tenants/{tenant}/auth/password-reset/confirm",
        ) => Public,
        ("GET" | "POST", "/v1/tenants/{tenant}/users") => Admin,
        ("GET", "/v1/tenants/{tenant}/users/active" | "/v1/tenants/{tenant}/contributors/top") => Admin,
        ("GET", "/v1/tenants/{tenant}/training/leaderboard") => Admin,
        (
            "GET",
            "/v1/tenants/{tenant}/users/by-email/{email}" | "/v1/tenants/{tenant}/users/by-username/{username}",
        ) => Admin,
        ("POST", "/v1/tenants/{tenant}/ingest/bugs" | "/v1/tenants/{tenant}/ingest/tests") => Admin,
        (
            "GET",
            "/v1/tenants/{tenant}/users/{id}/bugs"
            | "/v1/tenants/{tenant}/users/{id}/tests"
            | "/v1/tenants/{tenant}/users/{id}/activity",
        ) => Admin,
        ("GET", "/v1/tenants/{tenant}/users/{id}" | "/v1/tenants/{tenant}/users/{id}/sessions") => ReadUser,
        ("PATCH" | "DELETE", "/v1/tenants/{tenant}/users/{id}") => Administer,
        (
            "POST",
            "/v1/tenants/{tenant}/users/{id}/activate"
            | "/v1/tenants/{tenant}/users/{id}/suspend"
            | "/v1/tenants/{tenant}/users/{id}/unlock"
            | "/v1/tenants/{tenant}/users/{id}/restore"
            | "/v1/tenants/{tenant}/users/{id}/force-password-reset"
            | "/v1/tenants/{tenant}/users/{id}/revoke-sessions",
        ) => Administer,
        ("DELETE", "/v1/tenants/{tenant}/users/{id}/totp") => Administer,
        ("GET" | "POST", "/v1/tenants/{tenant}/agents") => Admin,
        (
            "GET",
            "/v1/tenants/{tenant}/audit" | "/v1/tenants/{tenant}/audit/export" | "/v1/tenants/{tenant}/audit/verify",
        ) => Admin,
        ("DELETE", "/v1/tenants/{tenant}/agents/{agent}") => Admin,
        (
            "GET",
            "/v1/tenants/{tenant}/users/{id}/permissions" | "/v1/tenants/{tenant}/users/{id}/permissions/{agent}/check",
        ) => ReadUser,
        ("PUT" | "DELETE", "/v1/tenants/{tenant}/users/{id}/permissions/{agent}") => Administer,
        ("GET" | "POST", "/v1/tenants/{tenant}/clients") => Clients,
        ("GET" | "PATCH" | "DELETE", "/v1/tenants/{tenant}/clients/{id}") => Clients,
        ("POST", "/v1/tenants/{tenant}/clients/{id}/restore") => Clients,
        ("GET", "/v1/tenants/{tenant}/scenarios" | "/v1/tenants/{tenant}/scenarios/{id}") => Member,
        ("POST", "/v1/tenants/{tenant}/scenarios") | ("PATCH", "/v1/tenants/{tenant}/scenarios/{id}") => Admin,
        ("POST", "/v1/tenants/{tenant}/scenarios/{id}/start") => Member,
        ("GET", "/v1/sessions/{id}") | ("GET" | "POST", "/v1/sessions/{id}/messages") => Session,
        ("POST", "/v1/sessions/{id}/abandon") => Session,
        ("POST", "/v1/sessions/{id}/resolve") => Coach,
        ("GET", "/v1/tenants/{tenant}/achievements") => Member,
        ("POST", "/v1/tenants/{tenant}/achievements") => Admin,
        ("GET", "/v1/me/performance" | "/v1/me/achievements") => Me,
        ("GET", "/v1/tenants/{tenant}/users/{id}/performance") => ReadUser,
        // SCIM: admins of the tenant; a user named by id is administered as through /v1
        (_, p)
            if p.starts_with("/scim/")
                && (p.contains("/Groups/{id}") || p.contains("{name}") || p.contains("{urn}")) =>
        {
            AdminFindsNothing
        }
        ("PUT" | "PATCH" | "DELETE", "/scim/v2/tenants/{tenant}/Users/{id}") => Administer,
        (_, p) if p.starts_with("/scim/") => Admin,
        _ => return None,
    })
}

/// A kind of caller. Tenant A is where the resources live; tenant B is another tenant; sysadmins live in `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    User,
    Admin,
    AdminOfB,
    UserKey,
    AdminKey,
    SysadminKey,
    Sysadmin,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::User,
    Caller::Admin,
    Caller::AdminOfB,
    Caller::UserKey,
    Caller::AdminKey,
    Caller::SysadminKey,
    Caller::Sysadmin,
];

impl Caller {
    fn role(self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::User | Caller::UserKey => Some(Role::User),
            Caller::Admin | Caller::AdminOfB | Caller::AdminKey => Some(Role::Admin),
            Caller::SysadminKey | Caller::Sysadmin => Some(Role::Sysadmin),
        }
    }

    fn is_key(self) -> bool {
        matches!(self, Caller::UserKey | Caller::AdminKey | Caller::SysadminKey)
    }

    /// Whether the caller is a user of tenant A (it then has an account of its own there).
    fn lives_in_a(self) -> bool {
        matches!(self, Caller::User | Caller::Admin)
    }

    fn may_enter(self, tenant: &str) -> bool {
        match self {
            Caller::Anonymous => false,
            Caller::SysadminKey | Caller::Sysadmin => true,
            Caller::AdminOfB => tenant == "tenant-b",
            _ => tenant == "tenant-a",
        }
    }
}

/// A kind of target: the resource a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The caller itself (callers with an account in tenant A).
    Own,
    /// An ordinary user of tenant A.
    OtherUser,
    /// A sysadmin who lives in tenant A.
    SysadminUser,
    /// A user of tenant B, named in tenant B.
    OtherTenant,
    /// A user of tenant B, named in tenant A: does not exist there.
    ForeignId,
}

const TARGETS: [Target; 5] =
    [Target::Own, Target::OtherUser, Target::SysadminUser, Target::OtherTenant, Target::ForeignId];

/// The targets of a client or scenario route: one of tenant A, one of tenant B named in B, and one of B named in A.
const CLIENT_TARGETS: [Target; 3] = [Target::OtherUser, Target::OtherTenant, Target::ForeignId];

/// The targets of a session route (the path names no tenant): a session of the caller, of another user of tenant A,
/// and of a user of tenant B.
const SESSION_TARGETS: [Target; 3] = [Target::Own, Target::OtherUser, Target::ForeignId];

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Let through: whatever the operation answers (2xx, or 409/412/422 about the data), but never 401/403/404.
    Allowed,
    Status(u16),
    /// A request a public route answers on its own terms: never 403 or 404.
    Public,
    /// An API key on a route about the signed-in user: 400 or 404.
    NoUser,
}

fn expect(access: Access, caller: Caller, target: Target, path: &str) -> Expect {
    use Expect::*;
    let tenant = if target == Target::OtherTenant { "tenant-b" } else { "tenant-a" };
    let names_user = ["{id}", "{email}", "{username}"].iter().any(|p| path.contains(p));
    let role = caller.role();
    match access {
        Access::Public => Public,
        Access::Me if caller == Caller::Anonymous => Status(401),
        Access::Me if caller.is_key() => NoUser,
        Access::Me if path.contains("{session}") && target != Target::Own => Status(404),
        Access::Me => Allowed,
        _ if caller == Caller::Anonymous => Status(401),
        Access::Session | Access::Coach => {
            // the session is looked for in the caller's own tenant (the signed-in sysadmin's is `default`); a foreign
            // target's session is in tenant B
            let home = match caller {
                Caller::AdminOfB => "tenant-b",
                Caller::Sysadmin => "default",
                _ => "tenant-a",
            };
            let session_in = if target == Target::ForeignId { "tenant-b" } else { "tenant-a" };
            if home != session_in {
                Status(404)
            } else if access == Access::Coach && target == Target::Own && !caller.is_key() {
                // nobody scores its own session, whatever its role
                Status(403)
            } else if role >= Some(Role::Admin) {
                Allowed
            } else if caller == Caller::User && target == Target::Own {
                if access == Access::Coach {
                    Status(403)
                } else {
                    Allowed
                }
            } else {
                Status(404)
            }
        }
        Access::Sysadmin if role == Some(Role::Sysadmin) => Allowed,
        Access::Sysadmin => Status(403),
        _ if !caller.may_enter(tenant) => Status(404),
        Access::AdminKey if caller.is_key() && role >= Some(Role::Admin) => Allowed,
        Access::AdminKey => Status(403),
        // the gate asks for the grant before it looks for the client
        Access::Clients if role < Some(Role::Admin) => Status(403),
        Access::Clients if path.contains("{id}") && target == Target::ForeignId => Status(404),
        Access::Clients => Allowed,
        Access::Member if names_user && target == Target::ForeignId => Status(404),
        Access::Member => Allowed,
        Access::Admin if role < Some(Role::Admin) => Status(403),
        Access::Admin if names_user && target == Target::ForeignId => Status(404),
        Access::Admin => Allowed,
        Access::ReadUser if target == Target::ForeignId => Status(404),
        Access::ReadUser if role >= Some(Role::Admin) => Allowed,
        Access::ReadUser if target == Target::Own => Allowed,
        Access::ReadUser => Status(404),
        Access::Administer if role < Some(Role::Admin) => Status(403),
        Access::Administer if target == Target::ForeignId => Status(404),
        Access::Administer if target == Target::SysadminUser && role < Some(Role::Sysadmin) => Status(403),
        Access::Administer => Allowed,
        Access::AdminFindsNothing if role < Some(Role::Admin) => Status(403),
        Access::AdminFindsNothing => Status(404),
    }
}

const PASSWORD: &str = "matrix password 1";

/// A person with an account: its id, email, username and a live session.
struct Account {
    id: Uuid,
    email: String,
    username: String,
    token: String,
    session: String,
}

struct World {
    server: common::Server,
    passwords: Passwords,
    count: std::sync::atomic::AtomicUsize,
}

impl World {
    fn unique(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    async fn scope(&self, slug: &str) -> TenantScope {
        let tenant = roster::tenants::find(&self.server.db.store, slug).await.unwrap().unwrap();
        TenantScope::operator_unchecked(tenant.as_ref(), Actor::cli())
    }

    async fn account(&self, slug: &str, role: Role) -> Account {
        let name = self.unique("person");
        let email = format!("{name}@example.com");
        let input = NewUser {
            email: Some(email.clone()),
            username: Some(name.clone()),
            password: Some(PASSWORD.into()),
            role: Some(role),
            ..NewUser::default()
        };
        let scope = self.scope(slug).await;
        let store = &self.server.db.store;
        let user = roster::users::create(store, scope.admin().unwrap(), &self.passwords, SystemClock.now(), input)
            .await
            .unwrap();
        let body = json!({"email": email, "password": PASSWORD});
        let path = format!("/v1/tenants/{slug}/auth/login");
        let reply = self.server.send(Method::POST, &path, None, Some(&body), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let token = reply.body["token"].as_str().unwrap().to_owned();
        let sessions = self.server.get("/v1/me/sessions", &token).await;
        let session = sessions.body[0]["id"].as_str().unwrap().to_owned();
        Account { id: user.id, email, username: name, token, session }
    }

    async fn key(&self, slug: &str, role: Role) -> String {
        let scope = self.scope(slug).await;
        roster::auth::create_api_key(&self.server.db.store, &scope, SystemClock.now(), "matrix", role, None)
            .await
            .unwrap()
            .1
    }

    /// Add `agent` to the catalogue of tenant `slug`, and grant it to `user` when that user lives there.
    async fn agent_with_grant(&self, slug: &str, agent: &str, user: Uuid) {
        let scope = self.scope(slug).await;
        let store = &self.server.db.store;
        let new = roster::permissions::NewAgent { name: agent.to_owned(), description: None };
        roster::permissions::add_agent(store, scope.admin().unwrap(), SystemClock.now(), new).await.unwrap();
        let input = roster::permissions::GrantInput { can_read: true, ..Default::default() };
        match roster::permissions::put_grant(store, &scope, SystemClock.now(), user, agent, None, input).await {
            Ok(_) => {}
            // the user lives in the other tenant
            Err(roster::permissions::PermissionError::User(roster::users::UserError::NotFound)) => {}
            Err(e) => panic!("{e}"),
        }
    }

    /// A fresh client of tenant `slug`, with a CPF of its own.
    async fn client(&self, slug: &str) -> Uuid {
        let scope = self.scope(slug).await;
        let input = roster::clients::NewClient {
            name: "Matrix Client".into(),
            cpf: self.cpf(),
            birth_date: "1990-01-01".into(),
        };
        roster::clients::create(&self.server.db.store, &scope, SystemClock.now(), input).await.unwrap().id
    }

    /// A fresh scenario of tenant `slug`.
    async fn scenario(&self, slug: &str) -> Uuid {
        let scope = self.scope(slug).await;
        let input = roster::training::NewScenario::titled("Matrix Scenario", roster::training::Difficulty::Starter);
        roster::training::create_scenario(&self.server.db.store, scope.admin().unwrap(), SystemClock.now(), input)
            .await
            .unwrap()
            .id
    }

    /// A fresh active session of `user`, of a fresh scenario of tenant `slug`.
    async fn session(&self, slug: &str, user: Uuid) -> Uuid {
        let scenario = self.scenario(slug).await;
        let scope = self.scope(slug).await;
        let input = roster::training::StartSession { user_id: Some(user) };
        roster::training::sessions::start(&self.server.db.store, &scope, SystemClock.now(), scenario, input)
            .await
            .unwrap()
            .id
    }

    /// A valid CPF not used before in this run.
    fn cpf(&self) -> String {
        let n = 100_000_000 + self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u32;
        roster::clients::Cpf::from_number(n).expect("a CPF").digits().to_owned()
    }

    /// The caller's token, and its own account in tenant A when it has one.
    async fn caller(&self, caller: Caller) -> (Option<String>, Option<Account>) {
        match caller {
            Caller::Anonymous => (None, None),
            Caller::User | Caller::Admin => {
                let role = if caller == Caller::User { Role::User } else { Role::Admin };
                let account = self.account("tenant-a", role).await;
                (Some(account.token.clone()), Some(account))
            }
            Caller::AdminOfB => (Some(self.account("tenant-b", Role::Admin).await.token), None),
            Caller::UserKey => (Some(self.key("tenant-a", Role::User).await), None),
            Caller::AdminKey => (Some(self.key("tenant-a", Role::Admin).await), None),
            Caller::SysadminKey => (Some(self.key("tenant-a", Role::Sysadmin).await), None),
            Caller::Sysadmin => (Some(self.account("default", Role::Sysadmin).await.token), None),
        }
    }
}

/// A body the route accepts as to its shape, so the answer is about who called.
fn body_for(world: &World, method: &str, path: &str, target: &Account, unique: &str) -> Option<Value> {
    if path.starts_with("/v1/sessions") {
        let scores = json!({"verification_score": 80, "communication_score": 80, "technical_score": 80,
            "documentation_score": 80, "response_time_score": 80});
        return match (method, path.rsplit('/').next().unwrap_or_default()) {
            ("POST", "messages") => Some(json!({"sender_type": "user", "content": "Hello"})),
            ("POST", "resolve") => Some(scores),
            _ => None,
        };
    }
    if path.ends_with("/start") {
        return Some(json!({}));
    }
    if path.ends_with("/achievements") {
        return (method == "POST").then(|| {
            let criteria = json!({"kind": "level_reached", "level": 10_000});
            json!({"code": unique, "name": "Matrix Achievement", "tier": "bronze", "criteria": criteria})
        });
    }
    if path.contains("/scenarios") {
        return match method {
            "POST" => Some(json!({"title": "New Scenario", "difficulty": "starter"})),
            "PATCH" => Some(json!({"title": "Renamed Scenario"})),
            _ => None,
        };
    }
    if path.starts_with("/scim/") {
        let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": unique});
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": unique});
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]});
        return match (method, path.rsplit('/').next().unwrap_or_default()) {
            ("GET" | "DELETE", _) => None,
            ("POST", ".search") => Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
            ("POST", "Bulk") => {
                Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}))
            }
            ("POST" | "PUT", _) if path.contains("/Users") => Some(user),
            ("POST" | "PUT", _) => Some(group),
            _ => Some(patch),
        };
    }
    if path.contains("/clients") {
        return match method {
            "POST" if path.ends_with("/clients") => {
                Some(json!({"name": "New Client", "cpf": world.cpf(), "birth_date": "1990-01-01"}))
            }
            "PATCH" => Some(json!({"name": "Renamed Client"})),
            _ => None,
        };
    }
    let body = match (method, path.rsplit('/').next().unwrap_or_default()) {
        ("GET" | "DELETE", _) if !path.ends_with("/totp") => return None,
        ("POST", "logout" | "activity" | "enroll" | "revoke-sessions" | "force-password-reset") => return None,
        ("POST", "activate" | "suspend" | "unlock" | "restore") => return None,
        (_, "totp") if path.starts_with("/v1/tenants") => return None,
        ("POST", "confirm") if path.contains("password-reset") => {
            json!({"token": "rt_unknown", "password": "a new password 1"})
        }
        (_, "totp") | ("POST", "confirm") => json!({"code": "000000"}),
        ("PATCH", "me") => json!({"display_name": "Renamed"}),
        ("POST", "password") => json!({"current_password": "not it", "new_password": "another password 1"}),
        ("POST", "tenants") => json!({"slug": unique, "name": unique}),
        ("PATCH", "{tenant}") => json!({"external_id": unique}),
        ("POST", "external") => json!({"identity_provider": "google", "identity_provider_id": unique}),
        ("POST", "login") => json!({"email": target.email, "password": "a wrong password"}),
        ("POST", "register") => json!({"email": format!("{unique}@example.com"), "password": "a new password 1"}),
        ("POST", "verify-email") => json!({"token": "rt_unknown"}),
        ("POST", "request") => json!({"email": target.email}),
        ("POST", "users") => json!({"username": unique}),
        ("PATCH", "{id}") => json!({"display_name": "Renamed"}),
        ("POST", "bugs") => json!({"bugs": []}),
        ("POST", "agents") => json!({"name": unique.replace('-', "_")}),
        ("PUT", "{agent}") => json!({"can_read": true, "can_update": true}),
        ("POST", "tests") => json!({"exploratory_tests": []}),
        other => panic!("no body for {method} {path}: {other:?}"),
    };
    Some(body)
}

async fn matrix(backend: Backend) {
    // cheap hashing: the matrix signs in some thousands of times; the cost is not what it tests
    let config = Config {
        argon2_memory_kib: 8,
        argon2_iterations: 1,
        signin_per_address_per_minute: 1_000_000,
        signin_per_account_per_minute: 1_000_000,
        ..Config::default()
    };
    let passwords = Passwords::from_config(&config);
    let Some(server) = common::Server::start_with(backend, config, Arc::new(SystemClock)).await else { return };
    for slug in ["tenant-a", "tenant-b"] {
        let created = server.post("/v1/tenants", &server.root_key, json!({"slug": slug, "name": slug})).await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let world = World { server, passwords, count: Default::default() };

    let openapi = world.server.send(Method::GET, "/openapi.json", None, None, &[]).await.body;
    let mut routes = Vec::new();
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let missing: Vec<String> =
        routes.iter().filter(|(m, p)| access_of(m, p).is_none()).map(|(m, p)| format!("{m} {p}")).collect();
    assert!(missing.is_empty(), "routes without an entry in the access table: {missing:#?}");
    assert!(routes.len() >= 42, "the document lists {} routes", routes.len());

    let mut failures = Vec::new();
    let mut cells = 0;
    for (method, path) in &routes {
        let access = access_of(method, path).unwrap();
        let targets: &[Target] = if path.contains("/clients") || path.contains("/scenarios") {
            &CLIENT_TARGETS
        } else if path.starts_with("/v1/sessions") {
            &SESSION_TARGETS
        } else if path.contains("{tenant}") || path.contains("{session}") {
            &TARGETS
        } else {
            &[Target::Own]
        };
        for &caller in &CALLERS {
            for &target in targets {
                if target == Target::Own
                    && !caller.lives_in_a()
                    && (path.contains("{id}") || path.contains("{session}"))
                {
                    continue;
                }
                let (token, own) = world.caller(caller).await;
                let account = match target {
                    Target::Own => match own {
                        Some(account) => account,
                        None => world.account("tenant-a", Role::User).await,
                    },
                    Target::OtherUser => world.account("tenant-a", Role::User).await,
                    Target::SysadminUser => world.account("tenant-a", Role::Sysadmin).await,
                    Target::OtherTenant | Target::ForeignId => world.account("tenant-b", Role::User).await,
                };
                let tenant = if target == Target::OtherTenant { "tenant-b" } else { "tenant-a" };
                // on a client route, `{id}` is a client of the target's tenant (tenant B's for a foreign id)
                let client_tenant = if target == Target::OtherUser { "tenant-a" } else { "tenant-b" };
                let id = if path.contains("/clients/") {
                    world.client(client_tenant).await.to_string()
                } else if path.contains("/scenarios/") {
                    world.scenario(client_tenant).await.to_string()
                } else if path.starts_with("/v1/sessions/") {
                    let home = if target == Target::ForeignId { "tenant-b" } else { "tenant-a" };
                    world.session(home, account.id).await.to_string()
                } else {
                    account.id.to_string()
                };
                let url = path
                    .replace("{tenant}", tenant)
                    .replace("{id}", &id)
                    .replace("{email}", &account.email)
                    .replace("{username}", &account.username)
                    .replace("{session}", &account.session);
                // a fresh agent of the named tenant, on which the target holds a grant (to retire, change or revoke)
                let agent = world.unique("agent_");
                if path.contains("{agent}") {
                    world.agent_with_grant(tenant, &agent, account.id).await;
                }
                let url = url.replace("{agent}", &agent);
                let url = if path.ends_with("/check") { format!("{url}?action=read") } else { url };
                let unique = world.unique("made-");
                let body = body_for(&world, method, path, &account, &unique);
                let verb = Method::from_bytes(method.as_bytes()).unwrap();
                let reply = world.server.send(verb, &url, token.as_deref(), body.as_ref(), &[]).await;
                let status = reply.status.as_u16();
                let expected = expect(access, caller, target, path);
                let ok = status < 500
                    && match expected {
                        Expect::Allowed => ![401, 403, 404].contains(&status),
                        Expect::Status(s) => status == s,
                        Expect::Public => ![403, 404].contains(&status),
                        Expect::NoUser => [400, 404].contains(&status),
                    };
                cells += 1;
                if !ok {
                    failures.push(format!(
                        "{method} {path} as {caller:?} on {target:?}: expected {expected:?}, got {status} {}",
                        reply.body
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cells} cells wrong:\n{}", failures.len(), failures.join("\n"));
    eprintln!("access matrix: {cells} cells on {} routes, all as expected", routes.len());
}
roster::backend_test!(every_route_answers_every_caller_and_target_as_the_access_table_says, matrix);
