//! The people who work in Concierge: agents, supervisors and admins.

use crate::view::Timestamp;
use serde::{Deserialize, Serialize};

/// What a person may do. Admins manage users, teams and settings; supervisors also see every
/// team's work and the indicators; agents work their conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Agent, Role::Supervisor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A user as the API shows them (never with the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The language of the workspace for this person (`pt-BR` or `en`).
    pub language: String,
    pub created_at: Timestamp,
}
