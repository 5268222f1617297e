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

/// A team: the queue the bot (or a person) hands conversations to, with the skills it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamView {
    pub id: i64,
    /// Also the queue's name: a conversation owned by queue `name` goes to this team's people.
    pub name: String,
    pub languages: Vec<String>,
    pub channels: Vec<String>,
    pub topics: Vec<String>,
    pub members: Vec<TeamMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMember {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    /// Open conversations this person takes at once from the team's queue.
    pub capacity: u32,
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
