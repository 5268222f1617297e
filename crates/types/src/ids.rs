//! Typed ids. A customer is identified by the id of the root profile of its cluster.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A profile: one node of the identity graph. Profiles are grouped into clusters by merges; the
    /// cluster's root profile id is the customer id the API shows.
    ProfileId
);
id_type!(
    /// A stored event.
    EventId
);
id_type!(
    /// An entry of the merge log.
    MergeId
);
id_type!(
    /// An API key.
    KeyId
);
id_type!(
    /// An entry of the consent ledger.
    ConsentId
);

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// A Segment write key: may send events, nothing else.
    Ingest,
    /// Read and write on the REST API.
    Admin,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ingest" => Some(Self::Ingest),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// An API key as the server sees it after authentication.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiKey {
    pub id: KeyId,
    pub name: String,
    pub scope: KeyScope,
}
