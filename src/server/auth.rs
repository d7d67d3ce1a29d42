//! Authentication of remote-write senders: one expected `Authorization` credential,
//! compared in constant time.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::config::WriteAuth;

/// Checks the `Authorization` header of write requests.
pub struct Authenticator {
    required: Option<WriteAuth>,
}

impl Authenticator {
    pub fn new(required: Option<WriteAuth>) -> Authenticator {
        Authenticator { required }
    }

    pub fn is_required(&self) -> bool {
        self.required.is_some()
    }

    /// The `WWW-Authenticate` challenge to send with a 401.
    pub fn challenge(&self) -> &'static str {
        match self.required {
            Some(WriteAuth::Basic { .. }) => "Basic realm=\"harbinger\"",
            _ => "Bearer realm=\"harbinger\"",
        }
    }

    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(required) = &self.required else {
            return true;
        };
        let Some((scheme, credentials)) = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
        else {
            return false;
        };
        let credentials = credentials.trim();
        match required {
            WriteAuth::Bearer(token) => {
                scheme.eq_ignore_ascii_case("bearer")
                    && bool::from(credentials.as_bytes().ct_eq(token.expose().as_bytes()))
            }
            WriteAuth::Basic { username, password } => {
                let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials)
                else {
                    return false;
                };
                let expected = format!("{username}:{}", password.expose());
                scheme.eq_ignore_ascii_case("basic")
                    && bool::from(decoded.as_slice().ct_eq(expected.as_bytes()))
            }
        }
    }
}
