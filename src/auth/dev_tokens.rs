//! Static development tokens (`DXCP_AUTH=dev`, DESIGN §9). Only for local
//! runs: the config refuses to bind dev mode to a non-loopback address.

use std::collections::HashMap;

use super::{AuthError, Authenticator};
use crate::{config::DevToken, domain::Principal};

pub struct DevTokenAuthenticator {
    tokens: HashMap<String, Principal>,
}

impl DevTokenAuthenticator {
    pub fn new(tokens: &[DevToken]) -> Self {
        Self { tokens: tokens.iter().map(|t| (t.token.expose().to_owned(), t.principal.clone())).collect() }
    }
}

#[async_trait::async_trait]
impl Authenticator for DevTokenAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.tokens.get(token).cloned().ok_or(AuthError::Invalid)
    }
}
