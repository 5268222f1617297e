//! Identity resolution, as pure logic with no I/O.
//!
//! A store resolves each incoming event by calling [`plan`] with the event's identifiers and a view
//! of its identity graph (the [`Graph`] trait), then applies the returned [`Plan`] in the same
//! transaction. Keeping the decision here means the SQLite and PostgreSQL backends merge exactly
//! the same way, and the rules can be tested without a database.
//!
//! The graph: every identifier belongs to one *profile*; profiles are grouped into *clusters* (one
//! customer) by merges, each cluster named by its root (oldest) profile. Merging only re-points
//! cluster membership, so undoing a merge restores both sides exactly.
//!
//! [`Rules`] stop wrong merges before they happen: unique kinds (default `user_id`) never join two
//! clusters holding different values, blocked values never link anyone, and each kind has a limit
//! of identifiers per customer.

mod plan;
mod rules;

pub use plan::{plan, Graph, Owner, Plan, Refusal, Target};
pub use rules::{BlockedValue, Rules};
