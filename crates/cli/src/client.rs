//! A small blocking client for a running server's API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Where the server is and how to authenticate to it.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of a running server's API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API token [default: read from DATA_DIR/admin.token].
    #[arg(long, env = "SENTINELLA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Data directory holding admin.token (and, for `import`, the store).
    #[arg(long, default_value = "./sentinella-data")]
    pub data_dir: PathBuf,
}

pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(args: &ServerArgs) -> anyhow::Result<Client> {
        Self::with_timeout(args, Duration::from_secs(300))
    }

    /// A client whose requests may take up to `timeout` (hunts over long histories).
    pub fn with_timeout(args: &ServerArgs, timeout: Duration) -> anyhow::Result<Client> {
        let token = match &args.token {
            Some(token) => token.clone(),
            None => read_token(&args.data_dir)?,
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Client {
            base: args.server.trim_end_matches('/').to_owned(),
            token,
            agent,
        })
    }

    /// Whether a server answers `/health` at the base URL.
    pub fn is_up(base: &str) -> bool {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .new_agent();
        agent
            .get(format!("{}/health", base.trim_end_matches('/')))
            .call()
            .is_ok()
    }

    pub fn get_json(&self, path_and_query: &str) -> anyhow::Result<serde_json::Value> {
        let response = self
            .agent
            .get(format!("{}{}", self.base, path_and_query))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("calling {}", self.base))?;
        read_json(response)
    }

    /// GETs a body that is not JSON (exports), with the value of one response header.
    pub fn get_bytes(
        &self,
        path_and_query: &str,
        header: &str,
    ) -> anyhow::Result<(Vec<u8>, Option<String>)> {
        let mut response = self
            .agent
            .get(format!("{}{}", self.base, path_and_query))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("calling {}", self.base))?;
        let status = response.status();
        if !status.is_success() {
            // The API's errors are JSON; read_json turns them into the message.
            return Err(read_json(response)
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("server answered {status}")));
        }
        let value = response
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .context("reading the server's answer")?;
        Ok((bytes, value))
    }

    /// POSTs a body. A 429 (the server's queue is full) is retried with backoff for up
    /// to a minute: the request was not accepted, so resending cannot duplicate.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<serde_json::Value> {
        let mut delay = Duration::from_millis(50);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let response = self
                .agent
                .post(format!("{}{}", self.base, path))
                .header("Authorization", format!("Bearer {}", self.token))
                .header("Content-Type", content_type)
                .send(body)
                .with_context(|| format!("calling {}", self.base))?;
            if response.status() == 429 && std::time::Instant::now() < deadline {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
            return read_json(response);
        }
    }
}

fn read_json(mut response: ureq::http::Response<ureq::Body>) -> anyhow::Result<serde_json::Value> {
    let status = response.status();
    let body: serde_json::Value = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_json()
        .context("reading the server's answer")?;
    if !status.is_success() {
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("request failed");
        bail!("server answered {status}: {message}");
    }
    Ok(body)
}

pub fn read_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(server::ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the API token from {} (use --token or --data-dir)",
            path.display()
        )
    })?;
    Ok(token.trim().to_owned())
}
