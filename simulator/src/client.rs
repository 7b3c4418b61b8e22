//! A signed-in caller of the service: a person or the gateway, signing in again when its session ends
//! (sessions time out when idle, and a slow simulation idles).

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::RwLock;

pub enum Credentials {
    Person { username: String, password: String },
    Device { device_id: String, secret: String },
}

pub struct Caller {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    token: RwLock<String>,
}

impl Caller {
    pub async fn sign_in(http: &reqwest::Client, base: &str, credentials: Credentials) -> anyhow::Result<Self> {
        let token = RwLock::new(token(http, base, &credentials).await?);
        Ok(Self { http: http.clone(), base: base.to_owned(), credentials, token })
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(|token| self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(body)).await
    }

    /// A record of something that happened at `source_time` at the source (a tablet's clock).
    pub async fn post_at(&self, path: &str, body: &Value, source_time: DateTime<Utc>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let at = source_time.to_rfc3339();
        self.send(|token| self.http.post(&url).bearer_auth(token).header("Source-Timestamp", &at).json(body)).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(|token| self.http.get(format!("{}{path}", self.base)).bearer_auth(token)).await
    }

    async fn send(&self, request: impl Fn(&str) -> reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let sent = request(&self.token.read().await.clone()).send().await?;
        let response = if sent.status() == reqwest::StatusCode::UNAUTHORIZED {
            let fresh = token(&self.http, &self.base, &self.credentials).await?;
            *self.token.write().await = fresh.clone();
            request(&fresh).send().await?
        } else {
            sent
        };
        answer(response).await
    }
}

async fn token(http: &reqwest::Client, base: &str, credentials: &Credentials) -> anyhow::Result<String> {
    let (path, body) = match credentials {
        Credentials::Person { username, password } => {
            ("/api/v1/auth/login", json!({"username": username, "password": password}))
        }
        Credentials::Device { device_id, secret } => {
            ("/api/v1/auth/device", json!({"device_id": device_id, "secret": secret}))
        }
    };
    let signed_in = answer(http.post(format!("{base}{path}")).json(&body).send().await?).await?;
    signed_in["access_token"].as_str().map(str::to_owned).context("the sign-in answer has no access token")
}

/// The body of a 2xx answer (`null` when empty); anything else is an error with the service's words.
pub async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{status}: {text}");
    }
    Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
}
