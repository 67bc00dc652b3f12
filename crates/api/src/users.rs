//! Users (admin only, see `access::ROUTE_ROLES`): `GET|POST /api/v1/users`,
//! `POST /api/v1/users/{name}` (role, disabled, password). Personal API tokens (each user
//! their own; admins all): `GET|POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`.
//! The audit log (admin): `GET /api/v1/audit`. Saved searches (each user their own):
//! `GET|POST /api/v1/searches`, `DELETE /api/v1/searches/{name}`.

use std::sync::Arc;

use auth::{Principal, Role};
use axum::extract::{Extension, Path, Query, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::access::{blocking, now};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{name}", get(get_user).post(update_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/searches", get(list_searches).post(save_search))
        .route("/api/v1/searches/{name}", delete(delete_search))
}

async fn list_users(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let users = blocking(move || accounts.list_users()).await?;
    Ok(Json(json!({"users": users})))
}

async fn get_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let user = blocking(move || accounts.user(&name)).await?;
    Ok(Json(json!({"user": user})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: Role,
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewUser>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let user = blocking(move || {
        accounts.add_user(
            &body.name,
            body.role,
            &body.password,
            &principal.name,
            now(),
        )
    })
    .await?;
    Ok(Json(json!({"user": user})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
    /// Also give a password to a user who signs in only through the OpenID Provider (a
    /// second way in that the provider does not govern; audited as such).
    #[serde(default)]
    allow_local_password: bool,
}

async fn update_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Json(body): Json<UserUpdate>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if body.role.is_none() && body.disabled.is_none() && body.password.is_none() {
        return Err(ApiError::BadRequest(
            "nothing to change: give role, disabled or password".to_owned(),
        ));
    }
    if name == principal.name && (body.disabled == Some(true) || body.role.is_some()) {
        // An admin locking themselves out would need the admin token to recover.
        return Err(ApiError::BadRequest(
            "you cannot disable yourself or change your own role".to_owned(),
        ));
    }
    let accounts = Arc::clone(&state.accounts);
    let user = blocking(move || {
        let actor = principal.name.as_str();
        let mut user = accounts.user(&name)?;
        if let Some(role) = body.role {
            user = accounts.set_role(&name, role, actor, now())?;
        }
        if let Some(disabled) = body.disabled {
            user = accounts.set_disabled(&name, disabled, actor, now())?;
        }
        if let Some(password) = &body.password {
            user = if body.allow_local_password {
                accounts.set_local_password(&name, password, actor, now())?
            } else {
                accounts.set_password(&name, password, actor, now())?
            };
        }
        Ok(user)
    })
    .await?;
    Ok(Json(json!({"user": user})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenListParams {
    #[serde(default)]
    all: bool,
}

async fn list_tokens(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<TokenListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if params.all && principal.role < Role::Admin {
        return Err(ApiError::Denied(
            "forbidden",
            "listing everyone's tokens needs the admin role".to_owned(),
        ));
    }
    let accounts = Arc::clone(&state.accounts);
    let tokens =
        blocking(move || accounts.list_tokens((!params.all).then_some(principal.name.as_str())))
            .await?;
    Ok(Json(json!({"tokens": tokens})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    /// Days until it expires; none means it lasts until revoked.
    expires_in_days: Option<u32>,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewToken>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let created = now();
    let expires = body
        .expires_in_days
        .map(|days| created + i64::from(days.min(3650)) * 86_400);
    let (secret, info) =
        blocking(move || accounts.create_token(&principal.name, &body.name, expires, created))
            .await?;
    Ok(Json(json!({"token": secret, "info": info})))
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    blocking(move || {
        let owner = (principal.role < Role::Admin).then_some(principal.name.as_str());
        accounts.revoke_token(&id, owner, &principal.name, now())
    })
    .await?;
    Ok(Json(json!({"revoked": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    before: Option<u64>,
    limit: Option<usize>,
}

async fn audit_log(
    State(state): State<AppState>,
    Query(params): Query<AuditParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let limit = params.limit.unwrap_or(100).min(1000);
    let entries = blocking(move || accounts.audit_log(params.before, limit)).await?;
    Ok(Json(json!({"entries": entries})))
}

async fn list_searches(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let searches = blocking(move || accounts.saved_searches(&principal.name)).await?;
    Ok(Json(json!({"searches": searches})))
}

async fn save_search(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(search): Json<auth::SavedSearch>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    blocking(move || accounts.save_search(&principal.name, &search)).await?;
    Ok(Json(json!({"saved": true})))
}

async fn delete_search(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let removed = blocking(move || accounts.delete_search(&principal.name, &name)).await?;
    if removed {
        Ok(Json(json!({"deleted": true})))
    } else {
        Err(ApiError::NotFound("no such saved search".to_owned()))
    }
}
