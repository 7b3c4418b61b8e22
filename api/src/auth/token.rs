//! Access tokens: short-lived JWTs (HS256) naming a session. The token alone never authorises: every
//! request also checks that its session is open (see `session`), so revocation takes effect at once.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, internal};

const ISSUER: &str = "ms5-floor";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The session the token belongs to.
    pub sid: Uuid,
    /// `user:<uuid>` or `device:<id>`; informative, the session is authoritative.
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// HS256 keys shorter than its hash add no strength; a shorter stored key is refused, never used.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("signing key has {0} bytes; at least {MIN_KEY_BYTES} are needed")]
pub struct ShortKey(usize);

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// The service's signing key, created by the first instance that asks; all instances share it.
    pub async fn load_or_create(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let candidate = super::password::random_bytes();
        sqlx::query("INSERT INTO signing_keys (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(candidate)
            .execute(pool)
            .await?;
        let secret: Vec<u8> =
            sqlx::query_scalar("SELECT secret FROM signing_keys WHERE id = 1").fetch_one(pool).await?;
        Self::from_secret(&secret).map_err(|short| sqlx::Error::Decode(format!("the stored {short}").into()))
    }

    /// Keys from a secret given to the service (`MS5_TOKEN_KEY_FILE`, kept in the deployment's secret
    /// store rather than the database), refused when shorter than [`MIN_KEY_BYTES`].
    pub fn from_secret(secret: &[u8]) -> Result<Self, ShortKey> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(ShortKey(secret.len()));
        }
        Ok(Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) })
    }

    pub fn issue(&self, session: Uuid, subject: String, ttl: std::time::Duration) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let claims =
            Claims { sid: session, sub: subject, iss: ISSUER.to_owned(), iat: now, exp: now.saturating_add(ttl) };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| internal(&e))
    }

    pub fn decode(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map(|data| data.claims).map_err(|error| {
            match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the access token has expired; refresh it")
                }
                _ => ApiError::unauthorized("invalid_token", "the access token is not valid"),
            }
        })
    }
}
