//! Who is calling: the role and actor behind a bearer token (DESIGN §3).

use std::{fmt, str::FromStr};

/// The four roles of DESIGN §3, ordered from most to least privileged for
/// "highest role wins" decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    PlatformAdmin,
    DeliveryOwner,
    Observer,
    CiPublisher,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "PLATFORM_ADMIN",
            Role::DeliveryOwner => "DELIVERY_OWNER",
            Role::Observer => "OBSERVER",
            Role::CiPublisher => "CI_PUBLISHER",
        }
    }

    /// Rank used when several identity-provider groups map to roles: the
    /// highest rank wins.
    pub fn rank(self) -> u8 {
        match self {
            Role::PlatformAdmin => 4,
            Role::DeliveryOwner => 3,
            Role::Observer => 2,
            Role::CiPublisher => 1,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PLATFORM_ADMIN" => Ok(Role::PlatformAdmin),
            "DELIVERY_OWNER" => Ok(Role::DeliveryOwner),
            "OBSERVER" => Ok(Role::Observer),
            "CI_PUBLISHER" => Ok(Role::CiPublisher),
            other => Err(format!("unknown role '{other}'")),
        }
    }
}

/// An authenticated caller. Group membership is never taken from the token:
/// it is looked up from the delivery groups' `members` when needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor_id: String,
    pub role: Role,
    /// E-mail from the identity provider, when it gave one.
    pub email: Option<String>,
    /// When the token stops being accepted (`exp` plus the clock leeway);
    /// `None` for tokens that do not expire (dev tokens). Long-lived
    /// connections end at this instant.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Principal {
    pub fn new(actor_id: impl Into<String>, role: Role) -> Self {
        Self { actor_id: actor_id.into(), role, email: None, expires_at: None }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    /// Roles that may read deployments, running state and the catalogue
    /// beyond services and builds.
    pub fn can_read_deployments(&self) -> bool {
        matches!(self.role, Role::PlatformAdmin | Role::DeliveryOwner | Role::Observer)
    }

    /// Roles that may ask for deploy, rollback and cancel at all; group
    /// membership is checked separately for owners.
    pub fn can_deploy(&self) -> bool {
        matches!(self.role, Role::PlatformAdmin | Role::DeliveryOwner)
    }

    /// Whether this caller's reads of deployments are limited to the
    /// delivery groups they are a member of.
    pub fn is_group_scoped(&self) -> bool {
        self.role == Role::DeliveryOwner
    }
}
