//! `sentinella user add|passwd|role|disable|enable|list`: console users.
//!
//! With the server stopped, works on `DATA_DIR/auth.redb` directly; while it runs (the
//! database is locked by the server), goes through its API with the admin token. Either
//! way the change is in the audit log.

use std::io::{BufRead as _, Read as _};

use anyhow::{Context as _, bail};

use crate::client::{Client, ServerArgs};

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Add a user. Prints a generated password unless --password-stdin.
    Add {
        name: String,
        /// admin, analyst or viewer.
        #[arg(long, default_value = "analyst")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Set a new password (also unlocks). Prints a generated one unless --password-stdin.
    /// Refused for a user who signs in only through the OpenID Provider, unless
    /// --allow-local-password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
        /// Give a local password to a user who signs in only through the OpenID Provider:
        /// a second way in that the provider's policies (MFA, offboarding) do not govern.
        /// Recorded as such in the audit log.
        #[arg(long)]
        allow_local_password: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Change a user's role.
    Role {
        name: String,
        role: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Disable a user: sessions end, tokens stop working.
    Disable {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Enable a disabled user.
    Enable {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

impl UserCommand {
    fn server(&self) -> &ServerArgs {
        match self {
            UserCommand::Add { server, .. }
            | UserCommand::Passwd { server, .. }
            | UserCommand::Role { server, .. }
            | UserCommand::Disable { server, .. }
            | UserCommand::Enable { server, .. }
            | UserCommand::List { server } => server,
        }
    }
}

enum Backend {
    Direct(auth::AuthStore),
    Api(Client),
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
    )
}

fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("empty password on standard input");
        }
        return Ok((password, false));
    }
    let mut random = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut random))
        .context("reading /dev/urandom")?;
    Ok((
        random.iter().map(|byte| format!("{byte:02x}")).collect(),
        true,
    ))
}

fn print_users(users: &[serde_json::Value]) {
    println!(
        "{:<24} {:<8} {:<9} {:<14} LOCKED UNTIL",
        "NAME", "ROLE", "STATE", "SIGN-IN"
    );
    for user in users {
        let state = if user["disabled"].as_bool().unwrap_or(false) {
            "disabled"
        } else {
            "active"
        };
        // Users created at their first OpenID Connect sign-in have no password.
        let sign_in = match (
            user["password"].as_bool().unwrap_or(true),
            user["oidc_issuer"].is_string(),
        ) {
            (true, true) => "password+oidc",
            (false, _) => "oidc",
            (true, false) => "password",
        };
        println!(
            "{:<24} {:<8} {:<9} {:<14} {}",
            user["name"].as_str().unwrap_or(""),
            user["role"].as_str().unwrap_or(""),
            state,
            sign_in,
            user["locked_until"]
                .as_i64()
                .filter(|until| *until > now())
                .map(|until| until.to_string())
                .unwrap_or_default()
        );
    }
}

pub fn run(args: UserArgs) -> anyhow::Result<()> {
    let server = args.command.server().clone();
    let db = server.data_dir.join(auth::AUTH_DB_FILE);
    let backend = match auth::AuthStore::open_in(&server.data_dir) {
        Ok(store) => Backend::Direct(store),
        Err(direct) => {
            if !Client::is_up(&server.server) {
                return Err(direct).with_context(|| format!("opening {}", db.display()));
            }
            Backend::Api(Client::new(&server)?)
        }
    };
    let actor = actor();
    let show = |user: serde_json::Value| print_users(&[user]);
    match (args.command, &backend) {
        (UserCommand::List { .. }, Backend::Direct(store)) => {
            let users = serde_json::to_value(store.list_users()?)?;
            print_users(users.as_array().expect("a list"));
        }
        (UserCommand::List { .. }, Backend::Api(client)) => {
            let answer = client.get_json("/api/v1/users")?;
            print_users(answer["users"].as_array().map_or(&[][..], Vec::as_slice));
        }
        (
            UserCommand::Add {
                name,
                role,
                password_stdin,
                ..
            },
            backend,
        ) => {
            let (password, generated) = password(password_stdin)?;
            let user = match backend {
                Backend::Direct(store) => serde_json::to_value(store.add_user(
                    &name,
                    role.parse()?,
                    &password,
                    &actor,
                    now(),
                )?)?,
                Backend::Api(client) => post(
                    client,
                    "/api/v1/users",
                    serde_json::json!({"name": name, "role": role, "password": password}),
                )?,
            };
            show(user);
            if generated {
                println!("password: {password}");
            }
        }
        (
            UserCommand::Passwd {
                name,
                password_stdin,
                allow_local_password,
                ..
            },
            backend,
        ) => {
            // Said before a password is read or made up; the store refuses it anyway.
            let provider_only = match backend {
                Backend::Direct(store) => !store.user(&name)?.password,
                Backend::Api(client) => {
                    client.get_json(&format!("/api/v1/users/{name}"))?["user"]["password"] == false
                }
            };
            if provider_only && !allow_local_password {
                bail!(
                    "`{name}` signs in only through the OpenID Provider and has no local password; \
                     giving them one opens a second way in that the provider's policies (MFA, \
                     offboarding) do not govern. If that is really wanted, run again with \
                     --allow-local-password (recorded in the audit log)."
                );
            }
            let (password, generated) = password(password_stdin)?;
            let user = update(
                backend,
                &name,
                serde_json::json!({"password": password, "allow_local_password": allow_local_password}),
                |store| {
                    if allow_local_password {
                        store.set_local_password(&name, &password, &actor, now())
                    } else {
                        store.set_password(&name, &password, &actor, now())
                    }
                },
            )?;
            show(user);
            if generated {
                println!("password: {password}");
            }
        }
        (UserCommand::Role { name, role, .. }, backend) => {
            let parsed: auth::Role = role.parse()?;
            show(update(
                backend,
                &name,
                serde_json::json!({"role": role}),
                |store| store.set_role(&name, parsed, &actor, now()),
            )?);
        }
        (UserCommand::Disable { name, .. }, backend) => show(update(
            backend,
            &name,
            serde_json::json!({"disabled": true}),
            |store| store.set_disabled(&name, true, &actor, now()),
        )?),
        (UserCommand::Enable { name, .. }, backend) => show(update(
            backend,
            &name,
            serde_json::json!({"disabled": false}),
            |store| store.set_disabled(&name, false, &actor, now()),
        )?),
    }
    Ok(())
}

fn post(client: &Client, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let answer = client.post(path, "application/json", body.to_string().as_bytes())?;
    Ok(answer["user"].clone())
}

fn update(
    backend: &Backend,
    name: &str,
    body: serde_json::Value,
    direct: impl FnOnce(&auth::AuthStore) -> Result<auth::UserInfo, auth::AuthError>,
) -> anyhow::Result<serde_json::Value> {
    match backend {
        Backend::Direct(store) => Ok(serde_json::to_value(direct(store)?)?),
        Backend::Api(client) => post(client, &format!("/api/v1/users/{name}"), body),
    }
}
